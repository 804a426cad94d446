#!/usr/bin/env bash
# The README's test command: on a Debian machine with the .NET SDK, installs what the tests need (PostgreSQL 15,
# Redis 7, Chromium, python3, openssl; apt, as root or through sudo), starts PostgreSQL and a Redis instance (127.0.0.1:6380,
# append-only with appendfsync always, data under /tmp; the tests find it through ORLEANSSESSIONS_TEST_REDIS,
# default 127.0.0.1:6380; an instance already answering there is reused), restores, builds and runs
# `dotnet test OrleansSessions.sln`, then the Python package's tests (python/: installed with Debian's python3 into a
# virtual environment under $TMPDIR, as docs/python.md says, against two silos it starts from the built binaries),
# then prints one line "N passed, N failed, N skipped" (totals over all test projects and the Python tests).
# Extra arguments go to dotnet test (e.g. --filter FullyQualifiedName~SessionLifetimeTests); the Python tests are then left out.
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
# The Python package is built offline with Debian's python3, in a virtual environment (docs/python.md).
/usr/bin/python3 -c 'import venv, ensurepip, pip, setuptools, wheel' >/dev/null 2>&1 \
  || missing+=(python3 python3-venv python3-pip python3-setuptools python3-wheel)
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

if [ "$#" -eq 0 ]; then
  echo "== Python package (python/)"
  venv="${TMPDIR:-/tmp}/orleanssessions-python-venv"
  py_passed=0 py_failed=0 py_skipped=0 py_status=0
  if /usr/bin/python3 -m venv --clear --system-site-packages "$venv" \
     && "$venv/bin/python" -m pip install --quiet --no-build-isolation --no-index ./python; then
    pylog=$(mktemp)
    "$venv/bin/python" python/tests/run_tests.py --silo silo/bin/Debug/net10.0/OrleansSessions.Silo.dll 2>&1 | tee "$pylog"
    py_status=${PIPESTATUS[0]}
    # run_tests.py ends with "python: N passed, N failed, N skipped".
    read -r py_passed py_failed py_skipped < <(sed -nE 's/^python: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p' "$pylog" | tail -n 1)
    rm -f "$pylog"
  else
    echo "installing the Python package failed"
    py_status=1
  fi
  if [ "$py_status" -ne 0 ] && [ "${py_failed:-0}" -eq 0 ]; then
    py_failed=1
  fi
  [ "$py_status" -eq 0 ] || status=1
  passed=$(( ${passed:-0} + ${py_passed:-0} ))
  failed=$(( ${failed:-0} + ${py_failed:-0} ))
  skipped=$(( ${skipped:-0} + ${py_skipped:-0} ))
fi
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
