#!/usr/bin/env bash
# Runs every benchmark target next to its baseline and writes bench/results/latest.{md,json}.
#
#   bench/run.sh quick   # 100,000-session scale for memory, expiry and dormant, 25 to 30 minutes on 2 cores (build
#                        # included; the dormant step 12 to 17 of them, the others under 10)
#   bench/run.sh full    # 1,000,000-session scale, longer
#
# On a fresh Debian machine (as root) it installs what it needs: redis-server and redis-tools (redis-benchmark is
# the network baseline) and PostgreSQL through .ci/postgres.sh (durable, janitor, failover, append, events and dormant
# run on it). It starts its own redis-server on 127.0.0.1:${REDIS_PORT:-6390} without persistence (redis-benchmark) and
# a durable one on 127.0.0.1:${REDIS_DURABLE_PORT:-6391} (appendonly yes, appendfsync always, in a temporary directory:
# the storage of janitor-redis, failover-redis, append, events and dormant, each emptying it first with FLUSHDB) and
# stops both at the end.
# Environment: REDIS_PORT, REDIS_DURABLE_PORT, PG (Npgsql connection string of the server; databases are created per
# measurement), BENCH_STEPS (space-separated subset of: inproc memory expiry expiry-srvgc expiry-gen0small expiry-gen0large
# network durable janitor janitor-redis users failover failover-redis append events dormant; quick runs inproc memory expiry
# network durable janitor users failover dormant by default, full runs all but expiry-gen0small and expiry-gen0large, which
# run when named; append, the session data step, and events, the event log step, run in full runs and when named:
# BENCH_STEPS=append bench/run.sh quick).
# BENCH_SILO_LOGS=<dir> keeps the whole log of every silo process (network, failover) as <dir>/<name>-<pid>.log.
# DORMANT_ARGS replaces the dormant step's arguments (e.g. DORMANT_ARGS="--sessions 1000000 --backends postgres --ends-backends , --spread 2").
# Everything runs on Microsoft Orleans: in-process silos (Host.CreateApplicationBuilder + UseOrleans) for inproc,
# memory, expiry, durable and janitor; processes of the silo host (silo/bin/Release/net10.0/OrleansSessions.Silo.dll, built
# with the bench) for network and failover; the bare Orleans floor (bench/OrleansSessions.Benchmarks/Bare) beside
# the in-process and network touch. The append step (chat turns appended to sessions' conversations) runs in-process
# silos (memory, PostgreSQL, Redis) and the silo host as a process, beside the bare floor, Redis RPUSH+LTRIM+EXPIRE
# pipelines (on both redis-servers above) and a raw INSERT loop. The events step (the durable event log) runs in-process
# silos on the memory default, PostgreSQL (with its event log, and with the in-memory log in its place) and the durable
# redis-server. The dormant step (sessions that give up their activation after Sessions:DormantAfter) runs in-process silos
# on the memory default, PostgreSQL and the durable redis-server: creates beside the bare floor, heap per dormant session,
# expiry with warnings (100,000 sessions in quick runs, 1,000,000 in full ones), then dormant ends per second on the memory
# default and PostgreSQL (20,000 / 100,000 sessions); it waits for the sessions' own timeouts, so it takes 12 to 17 minutes
# of a quick run (four runs on 2026-12-08, load 3 to 16 from other work).
set -uo pipefail

MODE="${1:-quick}"
case "$MODE" in quick|full) ;; *) echo "usage: bench/run.sh quick|full" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RESULTS="$ROOT/bench/results"
RAW="$RESULTS/run-$MODE.jsonl.tmp"
PIDS="$RESULTS/children.pids.tmp"
REDIS_PORT="${REDIS_PORT:-6390}"
REDIS_DURABLE_PORT="${REDIS_DURABLE_PORT:-6391}"
PG="${PG:-Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres}"
if [ "$MODE" = quick ]; then
  STEPS="${BENCH_STEPS:-inproc memory expiry network durable janitor users failover dormant}"
else
  STEPS="${BENCH_STEPS:-inproc memory expiry expiry-srvgc network durable janitor janitor-redis users failover failover-redis append events dormant}"
fi
START=$(date +%s)
REDIS_PID=""
REDIS_DURABLE_PID=""
REDIS_DURABLE_DIR=""

log() { echo "[bench $(date +%H:%M:%S)] $*"; }

cleanup() {
  if [ -f "$PIDS" ]; then
    while read -r pid; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; done < "$PIDS"
    rm -f "$PIDS"
  fi
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
    log "redis-server stopped"
  fi
  if [ -n "$REDIS_DURABLE_PID" ]; then
    kill "$REDIS_DURABLE_PID" 2>/dev/null && wait "$REDIS_DURABLE_PID" 2>/dev/null
    log "durable redis-server stopped"
  fi
  if [ -n "$REDIS_DURABLE_DIR" ]; then rm -rf "$REDIS_DURABLE_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Tools.
if ! command -v redis-benchmark >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then echo "redis-server/redis-benchmark missing and not root: apt-get install redis-server redis-tools" >&2; exit 1; fi
  log "installing redis-server redis-tools"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null || exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  bash .ci/postgres.sh >/dev/null || { echo "PostgreSQL setup (.ci/postgres.sh) failed" >&2; exit 1; }
elif ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "PostgreSQL is not running and this is not root (run .ci/postgres.sh as root)" >&2; exit 1
fi
command -v dotnet >/dev/null 2>&1 || { echo "the .NET SDK is required (dotnet not found)" >&2; exit 1; }

# 2. Build (Release). The commit (and whether the tree had local changes) is taken now, as built.
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT+local changes"; fi
log "building bench and the silo host (Release) at $COMMIT"
dotnet build bench/OrleansSessions.Benchmarks -c Release -nologo -v q -clp:ErrorsOnly || exit 1
BIN="$ROOT/bench/OrleansSessions.Benchmarks/bin/Release/net10.0/OrleansSessions.Benchmarks"

# 3. redis-server on loopback, no persistence.
mkdir -p "$RESULTS"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --loglevel warning >"$RESULTS/redis.log.tmp" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || { echo "redis-server did not start on port $REDIS_PORT" >&2; exit 1; }
log "redis-server on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"

# 3b. A durable redis-server (the storage of janitor-redis and failover-redis), as the product asks for it.
REDIS_DURABLE_DIR="$(mktemp -d /tmp/orleanssessions-bench-redis.XXXXXX)"
redis-server --port "$REDIS_DURABLE_PORT" --bind 127.0.0.1 --dir "$REDIS_DURABLE_DIR" --appendonly yes --appendfsync always \
  --save "" --daemonize no --loglevel warning >"$RESULTS/redis-durable.log.tmp" 2>&1 &
REDIS_DURABLE_PID=$!
for _ in $(seq 1 50); do redis-cli -p "$REDIS_DURABLE_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDIS_DURABLE_PORT" ping >/dev/null 2>&1 || { echo "redis-server did not start on port $REDIS_DURABLE_PORT" >&2; exit 1; }
log "durable redis-server on 127.0.0.1:$REDIS_DURABLE_PORT (pid $REDIS_DURABLE_PID, appendfsync always)"

# 4. Measurements, one process each.
mkdir -p "$RESULTS"
: > "$RAW"
export BENCH_OUT="$RAW" BENCH_PIDS="$PIDS"
if [ "$MODE" = quick ]; then
  ARGS_inproc="--sessions 10000 --creates 10000 --seconds 5 --warmup-seconds 2"
  ARGS_memory="--sessions 100000"
  ARGS_expiry="--sessions 100000 --idle-seconds 45"
  ARGS_expiry_srvgc="$ARGS_expiry --variant serverGC"
  ARGS_expiry_gen0small="$ARGS_expiry --variant gen0size4MiB"
  ARGS_expiry_gen0large="$ARGS_expiry --variant gen0size256MiB"
  ARGS_network="--sessions 10000 --seconds 4 --warmup-seconds 1.5 --redis-seconds 3"
  ARGS_durable="--sessions 10000 --seconds 5 --warmup-seconds 2"
  ARGS_janitor="--sessions 5000"
  ARGS_janitor_redis="$ARGS_janitor"
  ARGS_users="--live 10000 --close-all 50000"
  ARGS_failover="--sessions 3000"
  ARGS_failover_redis="$ARGS_failover"
  ARGS_append="--sessions 10000 --seconds 4 --warmup-seconds 1.5 --net-sessions 5000 --redis-seconds 3 --pair-sessions 3000 --memory-sessions 10000"
  ARGS_events="--seconds 4 --warmup-seconds 1.5 --replay-events 100000"
  ARGS_dormant="${DORMANT_ARGS:---sessions 100000 --ends-sessions 20000}"
  STEP_TIMEOUT=240
  # Five parts, each with its own silo and sessions: about 3 minutes on the 2 cores when they are otherwise idle.
  TIMEOUT_append=600
  # Three backends, each waiting for its sessions' timeouts, and two rounds of dormant ends.
  TIMEOUT_dormant=1800
else
  ARGS_inproc="--sessions 100000 --creates 100000 --seconds 10 --depths 1,64,1024"
  ARGS_memory="--sessions 1000000"
  ARGS_expiry="--sessions 1000000 --idle-seconds 540"
  ARGS_expiry_srvgc="$ARGS_expiry --variant serverGC"
  ARGS_expiry_gen0small="$ARGS_expiry --variant gen0size4MiB"
  ARGS_expiry_gen0large="$ARGS_expiry --variant gen0size256MiB"
  ARGS_network="--sessions 100000 --seconds 10 --warmup-seconds 3 --redis-seconds 8"
  ARGS_durable="--sessions 100000 --seconds 10 --warmup-seconds 3"
  ARGS_janitor="--sessions 50000"
  ARGS_janitor_redis="$ARGS_janitor"
  ARGS_users="--live 10000 --close-all 50000"
  ARGS_failover="--sessions 20000"
  ARGS_failover_redis="$ARGS_failover"
  ARGS_append="--sessions 100000 --seconds 10 --warmup-seconds 3 --net-sessions 20000 --redis-seconds 8 --pair-sessions 10000 --memory-sessions 100000"
  ARGS_events="--seconds 10 --warmup-seconds 3 --replay-events 1000000"
  ARGS_dormant="${DORMANT_ARGS:---sessions 1000000 --ends-sessions 100000}"
  STEP_TIMEOUT=1800
  TIMEOUT_append=2400
  TIMEOUT_dormant=14400
fi
LOADS=""
FAILED=""
for step in $STEPS; do
  args_var="ARGS_${step//-/_}"
  mode="$step"
  envs=()
  if [ "$step" = expiry-srvgc ]; then
    # The same expiry run under server GC (information: the silo host ships workstation background GC).
    mode=expiry
    envs=(DOTNET_gcServer=1)
  fi
  if [ "$step" = expiry-gen0small ]; then
    # The same expiry run with a 4 MiB gen0 budget (information).
    mode=expiry
    envs=(DOTNET_GCgen0size=0x400000)
  fi
  if [ "$step" = expiry-gen0large ]; then
    # The same expiry run with a 256 MiB gen0 budget (information; the runtime reads it from the environment only).
    mode=expiry
    envs=(DOTNET_GCgen0size=0x10000000)
  fi
  if [ "$step" = janitor-redis ] || [ "$step" = failover-redis ]; then
    # The same measurement on the Redis backend (the durable redis-server above).
    mode="${step%-redis}"
  fi
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  LOADS="$LOADS $step: $load;"
  log "step $step (load $load): ${envs[*]} $BIN $mode ${!args_var}"
  extra=""
  case "$step" in
    network) extra="--redis-port $REDIS_PORT --redis-pid $REDIS_PID" ;;
    durable|janitor|failover) extra="--pg $PG" ;;
    janitor-redis) extra="--redis 127.0.0.1:$REDIS_DURABLE_PORT --redis-pid $REDIS_DURABLE_PID" ;;
    failover-redis) extra="--redis 127.0.0.1:$REDIS_DURABLE_PORT" ;;
    events) extra="--pg $PG --redis 127.0.0.1:$REDIS_DURABLE_PORT --redis-pid $REDIS_DURABLE_PID" ;;
    dormant) extra="--pg $PG --redis 127.0.0.1:$REDIS_DURABLE_PORT" ;;
    append) extra="--pg $PG --redis-port $REDIS_PORT --redis-pid $REDIS_PID --redis 127.0.0.1:$REDIS_DURABLE_PORT --redis-durable-pid $REDIS_DURABLE_PID" ;;
  esac
  timeout_var="TIMEOUT_${step//-/_}"
  step_timeout="${!timeout_var:-$STEP_TIMEOUT}"
  # shellcheck disable=SC2086
  if ! env "${envs[@]}" timeout --kill-after=10 "$step_timeout" "$BIN" "$mode" ${!args_var} $extra; then
    log "step $step FAILED"
    FAILED="$FAILED $step"
  fi
  if [ -f "$PIDS" ]; then
    while read -r pid; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; done < "$PIDS"
    rm -f "$PIDS"
  fi
done

# 5. Report.
"$BIN" report --raw "$RAW" --out-dir "$RESULTS" --mode "$MODE" --loads "${LOADS# }" --failures "${FAILED# }" \
  --commit "$COMMIT"
# Keep the latest run of each mode side by side as well.
cp "$RESULTS/latest.md" "$RESULTS/latest-$MODE.md" && cp "$RESULTS/latest.json" "$RESULTS/latest-$MODE.json"
log "done in $(( $(date +%s) - START ))s"
[ -z "$FAILED" ]
