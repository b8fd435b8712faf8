#!/usr/bin/env bash
# Instructions per HTTP request through axum, plain and with each instrumentation, in one run.
# Ir(HIGH) - Ir(LOW) over HIGH - LOW requests: start-up, warm-up and shutdown cancel out. All
# threads are counted (the batch span processor's included).
set -euo pipefail
cd "$(dirname "$0")/.."
LOW=${LOW:-1000}
HIGH=${HIGH:-6000}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release -q -p otel-bench --bin http-ir
bin="${CARGO_TARGET_DIR:-target}/release/http-ir"

instructions() { # variant requests
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

plain=""
printf '| variant | instructions / request | added to plain axum |\n|---|---:|---:|\n'
for variant in $("$bin" list); do
  per=$(( ($(instructions "$variant" "$HIGH") - $(instructions "$variant" "$LOW")) / (HIGH - LOW) ))
  [ -n "$plain" ] || plain=$per
  printf '| %s | %s | %+d |\n' "$variant" "$per" $(( per - plain ))
done
