#!/usr/bin/env bash
# Instructions per propagation operation, ours beside upstream's, counted by callgrind.
# Each workload runs twice (LOW and HIGH iterations); (Ir(HIGH) - Ir(LOW)) / (HIGH - LOW) cancels
# start-up, set-up and shutdown. Deterministic for a given binary, whatever else the machine does.
#   ours         our propagator through TextMapPropagator + our HeaderExtractor/HeaderInjector
#   ours-direct  Propagators::extract_headers / inject_headers, the path our layers take
#   upstream     the upstream propagator through TextMapPropagator + opentelemetry-http's carriers
set -euo pipefail
cd "$(dirname "$0")/.."
LOW=${LOW:-1000}
HIGH=${HIGH:-11000}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release -q -p otel-bench --bin propagation-ir
bin=target/release/propagation-ir

instructions() { # workload side iterations
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_op() { # workload side
  echo $(( ($(instructions "$1" "$2" "$HIGH") - $(instructions "$1" "$2" "$LOW")) / (HIGH - LOW) ))
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

printf '| operation | ours | ours, direct | upstream | ours / upstream | direct / upstream | upstream crate |\n'
printf '|---|---:|---:|---:|---:|---:|---|\n'
"$bin" list | while IFS=$'\t' read -r name upstream_name; do
  ours=$(per_op "$name" ours)
  direct=$(per_op "$name" ours-direct)
  theirs=$(per_op "$name" upstream)
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$ours" "$direct" "$theirs" \
    "$(ratio "$ours" "$theirs")" "$(ratio "$direct" "$theirs")" "$upstream_name"
done
