#!/usr/bin/env bash
# Brings up a local PostgreSQL for the OrleansSessions.PostgreSql tests on a Debian machine (run as root).
# Idempotent: installs the server only when missing, starts the cluster only when stopped, and creates the
# test database only when absent. Safe to run any number of times.
#
# Environment (optional):
#   PG_PASSWORD  password set for the postgres role (default: postgres)
#   PG_DATABASE  database to create (default: orleanssessions_test)
#   PG_WAIT      seconds to wait for the server to accept connections (default: 60)
set -euo pipefail

PG_PASSWORD="${PG_PASSWORD:-postgres}"
PG_DATABASE="${PG_DATABASE:-orleanssessions_test}"
PG_WAIT="${PG_WAIT:-60}"

log() { echo "[postgres.sh] $*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "[postgres.sh] must run as root" >&2
  exit 1
fi

# 1. Install the server if no cluster tooling or server binaries are present.
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y postgresql
fi

# 2. Detect the installed major version (the highest one, if several).
PG_VERSION="$(ls -1 /usr/lib/postgresql | sort -V | tail -n 1)"
if [ -z "${PG_VERSION}" ]; then
  echo "[postgres.sh] no PostgreSQL version found under /usr/lib/postgresql" >&2
  exit 1
fi
log "PostgreSQL version ${PG_VERSION}"

# 3. Make sure the 'main' cluster exists (the Debian package creates it; a minimal image may not).
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "${PG_VERSION} main"; then
  log "creating cluster ${PG_VERSION}/main"
  pg_createcluster "${PG_VERSION}" main
fi

# 4. Start it unless it is already online.
if pg_lsclusters -h | awk -v v="${PG_VERSION}" '$1==v && $2=="main" {print $4}' | grep -q online; then
  log "cluster ${PG_VERSION}/main already running"
else
  log "starting cluster ${PG_VERSION}/main"
  pg_ctlcluster "${PG_VERSION}" main start
fi

# 5. Wait until the server answers.
deadline=$(( $(date +%s) + PG_WAIT ))
until pg_isready -q -h 127.0.0.1 -p 5432; do
  if [ "$(date +%s)" -ge "${deadline}" ]; then
    echo "[postgres.sh] PostgreSQL did not become ready within ${PG_WAIT}s" >&2
    exit 1
  fi
  sleep 0.5
done
log "server is accepting connections on 127.0.0.1:5432"

# 6. Password and database (both idempotent). Run from / so su does not complain about the cwd.
cd /
su postgres -c "psql -v ON_ERROR_STOP=1 -q -c \"ALTER USER postgres PASSWORD '${PG_PASSWORD}'\""
if su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = '${PG_DATABASE}'\"" | grep -q 1; then
  log "database ${PG_DATABASE} exists"
else
  log "creating database ${PG_DATABASE}"
  su postgres -c "createdb ${PG_DATABASE}"
fi

log "ready: Host=127.0.0.1;Port=5432;Username=postgres;Database=${PG_DATABASE}"
