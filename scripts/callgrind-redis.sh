#!/usr/bin/env bash
# Client-side instructions per Redis operation (GET, SET, a 10-command pipeline) against a local
# redis-server, in one run: bare redis-rs, the floor (one attribute-less span per operation),
# otel-redis (traces; traces + metrics). Ir(HIGH) - Ir(LOW) over HIGH - LOW operations, so
# start-up, connection set-up and shutdown cancel out; all client threads are counted (the batch
# span processor's included); the server runs outside valgrind.
# `THROUGHPUT=1` also runs the loopback throughput rounds (ratios to bare).
set -euo pipefail
cd "$(dirname "$0")/.."
LOW=${LOW:-1000}
HIGH=${HIGH:-6000}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
command -v redis-server >/dev/null || apt-get install -y -qq redis-server >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
cargo build --release -q -p otel-bench --bin redis-ir
bin="${CARGO_TARGET_DIR:-target}/release/redis-ir"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log"
stop() { [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null; rm -rf "$dir"; }
trap stop EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
export REDIS_URL="redis://127.0.0.1:$port/"

instructions() { # variant operations
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '| variant | instructions / operation | added to bare | added to floor |\n|---|---:|---:|---:|\n'
bare="" floor=""
for variant in $("$bin" list); do
  per=$(( ($(instructions "$variant" "$HIGH") - $(instructions "$variant" "$LOW")) / (HIGH - LOW) ))
  case "$variant" in bare-*) bare=$per ;; floor-*) floor=$per ;; esac
  printf '| %s | %s | %+d | %+d |\n' "$variant" "$per" $(( per - bare )) $(( per - floor ))
done
if [ -n "${THROUGHPUT:-}" ]; then
  "$bin" throughput "${ROUNDS:-5}" "${MILLIS:-1000}"
fi
