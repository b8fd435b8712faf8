#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) with cargo-fuzz on the nightly toolchain,
# and prints executions and findings per target. Corpora stay in fuzz/corpus (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in $(cargo +nightly fuzz list); do
  log=$(mktemp)
  status=ok
  cargo +nightly fuzz run -O "$target" -- -max_total_time="$SECONDS_EACH" -max_len=4096 >"$log" 2>&1 || status=FAILED
  runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo "?")
  printf '%-18s %-7s %s executions\n' "$target" "$status" "$runs"
  [ "$status" = ok ] || tail -30 "$log"
  rm -f "$log"
done
