#!/usr/bin/env bash
# The whole test suite. Installs what the tests need, then runs every test in the workspace.
# Needs only Rust (and root for apt-get, once the suite needs system packages).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features
