#!/usr/bin/env bash
# The README's test command: on a Debian machine with the .NET SDK, installs what the tests need (PostgreSQL 15,
# Redis 7, Chromium, python3, openssl; apt, as root or through sudo), starts PostgreSQL and a Redis instance (127.0.0.1:6380,
# append-only with appendfsync always, data under /tmp; the tests find it through ORLEANSSESSIONS_TEST_REDIS,
# default 127.0.0.1:6380; an instance already answering there is reused), restores, builds and runs
# `dotnet test OrleansSessions.sln`, then prints one line "N passed, N failed, N skipped" (totals over all test projects).
# Extra arguments go to dotnet test (e.g. --filter FullyQualifiedName~SessionLifetimeTests).
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # scripts/dev-certs.sh, for the TLS tests
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  as_root apt-get update -qq || { echo "apt-get update failed"; exit 1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || { echo "apt-get install failed"; exit 1; }
fi

echo "== starting PostgreSQL"
as_root bash .ci/postgres.sh || { echo "PostgreSQL did not start"; exit 1; }

echo "== starting Redis"
REDIS_PORT=6380
REDIS_DIR="${TMPDIR:-/tmp}/orleanssessions-redis-$REDIS_PORT"
if [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; then
  echo "redis-server already answering on 127.0.0.1:$REDIS_PORT"
else
  mkdir -p "$REDIS_DIR"
  # Append-only persistence: Orleans' Redis clustering cannot survive a Redis that restarts empty.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --appendonly yes --appendfsync always --save "" \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" || { echo "Redis did not start"; exit 1; }
  for _ in $(seq 1 100); do
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ] && break
    sleep 0.1
  done
  [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ] || { echo "Redis did not answer on 127.0.0.1:$REDIS_PORT (log: $REDIS_DIR/redis.log)"; exit 1; }
  echo "redis-server started on 127.0.0.1:$REDIS_PORT (data: $REDIS_DIR)"
fi
export ORLEANSSESSIONS_TEST_REDIS="${ORLEANSSESSIONS_TEST_REDIS:-127.0.0.1:$REDIS_PORT}"

echo "== restoring and building"
dotnet restore OrleansSessions.sln || { echo "dotnet restore failed"; exit 1; }
dotnet build OrleansSessions.sln --no-restore -c Debug || { echo "build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

echo "== dotnet test OrleansSessions.sln"
log=$(mktemp)
# One test project at a time (-m:1): the process and cluster tests share the machine's two cores, one PostgreSQL and one Redis.
dotnet test OrleansSessions.sln --no-build -m:1 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Sum the per-project summaries: "Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total:    12, ..."
read -r passed failed skipped < <(grep -E '(Passed|Failed)! +- Failed: ' "$log" | python3 -c '
import re, sys
p = f = s = 0
for line in sys.stdin:
    m = re.search(r"Failed:\s*(\d+), Passed:\s*(\d+), Skipped:\s*(\d+)", line)
    if m:
        f += int(m.group(1)); p += int(m.group(2)); s += int(m.group(3))
print(p, f, s)')
projects=$(grep -cE '(Passed|Failed)! +- Failed: ' "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then
  failed=1
fi
if [ "${projects:-0}" -eq 0 ]; then
  echo "no test project reported results"
  status=1
fi
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
