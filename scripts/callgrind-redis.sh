#!/usr/bin/env bash
# Client-side instructions per Redis operation (GET, SET, a 10-command pipeline) against a local
# redis-server, in one run: bare redis-rs, the floor (one attribute-less span per operation), the
# floor with ours' attributes made as cheaply as they can be (floor-attrs), otel-redis (traces;
# traces + metrics). Ir(HIGH) - Ir(LOW) over HIGH - LOW operations, so
# start-up, connection set-up and shutdown cancel out; all client threads are counted (the batch
# span processor's included); the server runs outside valgrind.
# `THROUGHPUT=1` also runs the loopback throughput rounds (ratios to bare; ROUNDS, MILLIS per cell).
set -euo pipefail
cd "$(dirname "$0")/.."
LOW=${LOW:-1000}
HIGH=${HIGH:-6000}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
command -v redis-server >/dev/null || apt-get install -y -qq redis-server >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
cargo build --release -q -p otel-bench --bin redis-ir
bin="${CARGO_TARGET_DIR:-target}/release/redis-ir"

dir=$(mktemp -d)
stop() { [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null; rm -rf "$dir"; }
trap stop EXIT
# A free loopback port: try random ones until a server answers on one.
port=""
for candidate in $(shuf -i 20000-60000 -n 20); do
  redis-server --port "$candidate" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log"
  for _ in $(seq 40); do
    # Ours answers with our directory (another server may hold a port we tried).
    if redis-cli -p "$candidate" config get dir 2>/dev/null | grep -qx "$dir"; then
      port=$candidate; break 2
    fi
    sleep 0.05
  done
done
[ -n "$port" ] || { echo "redis-server did not start" >&2; exit 1; }
export REDIS_URL="redis://127.0.0.1:$port/"

instructions() { # variant operations
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '| variant | instructions / operation | added to bare | added to floor |\n|---|---:|---:|---:|\n'
bare="" floor=""
for variant in $("$bin" list); do
  per=$(( ($(instructions "$variant" "$HIGH") - $(instructions "$variant" "$LOW")) / (HIGH - LOW) ))
  case "$variant" in bare-*) bare=$per ;; floor-attrs-*) ;; floor-*) floor=$per ;; esac
  printf '| %s | %s | %+d | %+d |\n' "$variant" "$per" $(( per - bare )) $(( per - floor ))
done
if [ -n "${THROUGHPUT:-}" ]; then
  "$bin" throughput "${ROUNDS:-15}" "${MILLIS:-200}"
fi
