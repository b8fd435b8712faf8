#!/usr/bin/env bash
# The end-to-end demo: a client calls an axum gateway over HTTP, the gateway calls a tonic service
# over gRPC, every hop instrumented by this suite; the spans print as one trace. Runs twice, with
# W3C and with B3 multi-header propagation. Everything runs on 127.0.0.1; needs only Rust.
set -euo pipefail
cd "$(dirname "$0")/.."
for setting in "" "b3multi"; do
  echo "=== OTEL_PROPAGATORS=${setting:-<unset>}"
  OTEL_PROPAGATORS="$setting" cargo run -q -p examples --bin demo
  echo
done
