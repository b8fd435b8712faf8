#!/usr/bin/env bash
# Instructions per request through a server, plain and with each instrumentation, in one run:
# `callgrind-server.sh http` (axum, the http-ir driver) or `callgrind-server.sh grpc` (tonic
# unary calls, the grpc-ir driver).
# Ir(HIGH) - Ir(LOW) over HIGH - LOW requests: start-up, warm-up and shutdown cancel out. All
# threads are counted (the batch span processor's included).
set -euo pipefail
cd "$(dirname "$0")/.."
LOW=${LOW:-1000}
HIGH=${HIGH:-6000}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
protocol=${1:-http}
case "$protocol" in http|grpc) ;; *) echo "usage: $0 http|grpc" >&2; exit 2 ;; esac
cargo build --release -q -p otel-bench --bin "$protocol-ir"
bin="${CARGO_TARGET_DIR:-target}/release/$protocol-ir"

instructions() { # variant requests
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

plain=""
printf '| variant | instructions / request | added to plain |\n|---|---:|---:|\n'
for variant in $("$bin" list); do
  per=$(( ($(instructions "$variant" "$HIGH") - $(instructions "$variant" "$LOW")) / (HIGH - LOW) ))
  [ -n "$plain" ] || plain=$per
  printf '| %s | %s | %+d |\n' "$variant" "$per" $(( per - plain ))
done
