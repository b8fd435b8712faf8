#!/usr/bin/env bash
# Instructions per Kafka message, bare rdkafka and each instrumentation, in one run (librdkafka's
# in-process mock cluster; bench/src/bin/kafka-ir.rs). Ir(HIGH) - Ir(LOW) over HIGH - LOW messages:
# start-up and shutdown cancel out. Only the driver's thread is counted: every span and header is
# handled there (simple span processor), while librdkafka's broker threads poll on timers, so their
# counts follow wall time (slower under callgrind), not the work per message.
set -euo pipefail
cd "$(dirname "$0")/.."
LOW=${LOW:-200}
HIGH=${HIGH:-1200}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release -q -p otel-bench --bin kafka-ir
bin="${CARGO_TARGET_DIR:-target}/release/kafka-ir"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

instructions() { # variant messages -> instructions of the main thread
  rm -f "$out"/cg*
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg" \
    "$bin" "$1" "$2" >/dev/null 2>&1
  sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out/cg-01"
}

printf '| variant | instructions / message | added to bare | added to floor |\n|---|---:|---:|---:|\n'
for side in produce consume; do
  bare="" floor=""
  for variant in $("$bin" list | grep "^$side-"); do
    per=$(( ($(instructions "$variant" "$HIGH") - $(instructions "$variant" "$LOW")) / (HIGH - LOW) ))
    [ -n "$bare" ] || bare=$per
    case "$variant" in *-floor) floor=$per ;; esac
    if [ -n "$floor" ]; then above=$(printf '%+d' $(( per - floor ))); else above=""; fi
    printf '| %s | %s | %+d | %s |\n' "$variant" "$per" $(( per - bare )) "$above"
  done
done
