#!/usr/bin/env bash
# The end-to-end demo. Until the HTTP → gRPC → Kafka → Redis demo exists, it runs the propagation
# example under three OTEL_PROPAGATORS settings. Needs only Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

for setting in "" "tracecontext,baggage,b3" "b3multi"; do
  echo "=== OTEL_PROPAGATORS=${setting:-<unset>}"
  OTEL_PROPAGATORS="$setting" cargo run -q -p examples --bin propagation
  echo
done
