#!/usr/bin/env bash
# The end-to-end demo: a code-judge platform in miniature on 127.0.0.1. An HTTP gateway (axum,
# Redis cache) calls code-manage over gRPC (tonic); code-manage queues the job on Kafka; a worker
# consumes it and produces the verdict back; every hop traced by this suite. Each submission's
# trace is drawn as a waterfall, under W3C and under B3 multi-header propagation; the demo fails
# when any span leaves its submission's trace. Needs only Rust: it installs make/gcc (to build
# librdkafka) and redis-server when missing; Kafka is librdkafka's mock cluster, in process.
# With OTEL_EXPORTER_OTLP_ENDPOINT set, the services export to that collector instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_build_tools
ensure_redis_server

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q -p code-judge --bins
for setting in "tracecontext,baggage" "b3multi"; do
  echo "=== OTEL_PROPAGATORS=$setting"
  OTEL_PROPAGATORS="$setting" "$CARGO_TARGET_DIR/debug/code-judge-demo"
  echo
done
