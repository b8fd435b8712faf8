#!/usr/bin/env bash
# The whole test suite. Installs what the tests need, then runs every test in the workspace.
# Needs only Rust (and root, or sudo, for apt-get when a system package is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh

# The bundled librdkafka is built from source (make, gcc); the Redis tests start a real
# redis-server; the Kafka tests start a real tansu broker. Each test fixture also installs what it
# lacks, so `cargo test -p <crate>` works alone; doing it once here keeps apt out of the test run.
ensure_build_tools
ensure_redis_server
ensure_tansu

cargo test --workspace --all-features
