#!/usr/bin/env bash
# Loopback load test, `load-server.sh http` (axum, wrk) or `load-server.sh grpc` (tonic unary
# calls, h2load): each variant's server pinned to core 0, the load generator to core 1, rounds
# interleaved so drift on this shared machine hits every variant alike. Reports throughput and
# server CPU per request, each as a ratio to the plain server (median of the rounds).
# Traffic goes to 127.0.0.1 only, bounded by SECONDS_PER_RUN x ROUNDS x variants.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
CONNECTIONS=${CONNECTIONS:-32}
protocol=${1:-http}
case "$protocol" in
  http) tool=wrk; package=wrk ;;
  grpc) tool=h2load; package=nghttp2-client ;;
  *) echo "usage: $0 http|grpc" >&2; exit 2 ;;
esac
command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$package" >/dev/null; }
cargo build --release -q -p otel-bench --bin "$protocol-server"
bin="${CARGO_TARGET_DIR:-target}/release/$protocol-server"
VARIANTS=${VARIANTS:-$("$bin" list 2>/dev/null || true)}
request_body=$(mktemp)
[ "$protocol" = grpc ] && "$bin" --request "$request_body"

# Runs the load for SECONDS_PER_RUN against the port; prints "<requests> <requests/s>".
load() { # port traceparent-flags
  local header="traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-$2"
  if [ "$protocol" = http ]; then
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -H "$header" "http://127.0.0.1:$1/users/42" \
      | awk '/requests in/ {n = $1} /Requests\/sec/ {r = $2} END {print n, r}'
  else
    taskset -c 1 h2load -D "$SECONDS_PER_RUN" -c 4 -m $((CONNECTIONS / 4)) -d "$request_body" \
      -H 'content-type: application/grpc' -H 'te: trailers' -H "$header" \
      "http://127.0.0.1:$1/test.echo.Echo/Unary" \
      | awk '/^finished in/ {r = $4} /^requests:/ {n = $8} END {print n, r}'
  fi
}
port=18080
results=$(mktemp)
ticks=$(getconf CLK_TCK)

for round in $(seq "$ROUNDS"); do
  for variant in $VARIANTS; do
    taskset -c 0 "$bin" "$variant" "$port" & pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    tp=$(if [[ $variant == *unsampled ]]; then echo 00; else echo 01; fi)
    cpu_before=$(awk '{print $14 + $15}' /proc/$pid/stat)
    read -r requests rps < <(load "$port" "$tp")
    cpu_after=$(awk '{print $14 + $15}' /proc/$pid/stat)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    cpu_us=$(awk -v c=$((cpu_after - cpu_before)) -v t="$ticks" -v n="$requests" 'BEGIN { printf "%.2f", c / t * 1e6 / n }')
    echo "$variant $round $rps $cpu_us" >> "$results"
    port=$((port + 1))
  done
done

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
plain=$(echo $VARIANTS | awk '{print $1}')
plain_rps=$(awk -v v="$plain" '$1 == v {print $3}' "$results" | median)
plain_cpu=$(awk -v v="$plain" '$1 == v {print $4}' "$results" | median)
printf '| variant | requests/s (median of %s) | throughput vs plain | server CPU µs/request | CPU vs plain |\n|---|---:|---:|---:|---:|\n' "$ROUNDS"
for variant in $VARIANTS; do
  rps=$(awk -v v="$variant" '$1 == v {print $3}' "$results" | median)
  cpu=$(awk -v v="$variant" '$1 == v {print $4}' "$results" | median)
  awk -v v="$variant" -v r="$rps" -v c="$cpu" -v pr="$plain_rps" -v pc="$plain_cpu" \
    'BEGIN { printf "| %s | %.0f | %.2f | %.2f | %.2f |\n", v, r, r / pr, c, c / pc }'
done
rm -f "$results" "$request_body"
