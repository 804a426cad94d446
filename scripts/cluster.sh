#!/usr/bin/env bash
# Starts a cluster of Orleans silos (3 by default) on local PostgreSQL (or Redis: --redis, below): membership (OrleansMembershipTable, keyed by
# CLUSTER_ID), reminders, grain state and the session deadline index are shared in one database (the silos apply the
# schema at start). Then it waits; Ctrl+C (or SIGTERM) stops every silo gracefully. Silo i listens on 11111+i, its
# gateway on 30000+i and its HTTP API/dashboard on 8080+i; logs go to ${TMPDIR:-/tmp}/orleanssessions-cluster/silo-i.log.
#
# Defaults passed to every silo before your arguments (yours win): --Janitor:Period=00:00:10, so that the sessions of a
# silo you kill -9 are expired by the janitor reminders on the survivors within seconds of their deadline, not 5 minutes.
#
# Try failover: dotnet run --project client -- --gateway 127.0.0.1:30001 --cluster-id $CLUSTER_ID create alice; kill -9 one silo's pid (printed
# below); the session still answers through another gateway once the survivors have declared the silo dead (a few s).
#
# On Redis instead: scripts/cluster.sh --redis (or STORAGE=redis scripts/cluster.sh). Membership, reminders, grain state
# and the deadline index then live in Redis at $ORLEANSSESSIONS_REDIS (default 127.0.0.1:6379). When nothing answers
# there (and it is on this machine), the script starts Debian's redis-server (apt-get install redis-server) with
# append-only persistence (--appendonly yes --appendfsync $REDIS_APPENDFSYNC, default always) in
# ${TMPDIR:-/tmp}/orleanssessions-cluster/redis-<port>, and shuts it down with the silos (its data stays on disk).
# Orleans' Redis clustering cannot survive a Redis that restarts empty: never run it without persistence.
#
# With TLS: scripts/cluster.sh --tls (or TLS=1; combines with --redis). The script runs scripts/dev-certs.sh into
# $CERTS (default ${TMPDIR:-/tmp}/orleanssessions-certs) and starts every silo with Security:Certificate,
# Security:CertificateKey and Security:CaCertificate: mutual TLS between the silos and on the gateways (clients need
# --cert/--key/--ca, printed below) and HTTPS on the HTTP ports. Development certificates only: see the README's Security.
#
# Environment (optional):
#   STORAGE             postgres (default) or redis
#   TLS                 1 for TLS (same as --tls)
#   CERTS               directory of the certificates of --tls (default ${TMPDIR:-/tmp}/orleanssessions-certs)
#   ORLEANSSESSIONS_PG  connection string (default Host=127.0.0.1;Username=postgres;Password=postgres;Database=orleanssessions,
#                       with Maximum Pool Size 90/SILOS, at least 5: the silos' pools stay within PostgreSQL's default
#                       max_connections of 100)
#   ORLEANSSESSIONS_REDIS  StackExchange.Redis configuration string (default 127.0.0.1:6379)
#   REDIS_APPENDFSYNC   appendfsync of a redis-server started here: always (default), everysec or no
#   CLUSTER_ID          Cluster:ClusterId (default dev)
#   SILOS               how many silos (default 3)
#   CONFIGURATION       build configuration (default Debug)
# Extra arguments are passed to every silo (e.g. --Sessions:IdleTimeout=00:00:30).
set -euo pipefail
cd "$(dirname "$0")/.."

STORAGE="${STORAGE:-postgres}"
TLS="${TLS:-0}"
while [ $# -gt 0 ]; do
  case "$1" in
    --redis) STORAGE=redis; shift ;;
    --tls) TLS=1; shift ;;
    *) break ;;
  esac
done
CERTS="${CERTS:-${TMPDIR:-/tmp}/orleanssessions-certs}"
case "$STORAGE" in
  postgres|redis) ;;
  *) echo "STORAGE must be postgres or redis (got '$STORAGE')" >&2; exit 2 ;;
esac
REDIS="${ORLEANSSESSIONS_REDIS:-127.0.0.1:6379}"
REDIS_APPENDFSYNC="${REDIS_APPENDFSYNC:-always}"
PG="${ORLEANSSESSIONS_PG:-Host=127.0.0.1;Username=postgres;Password=postgres;Database=orleanssessions}"
CLUSTER_ID="${CLUSTER_ID:-dev}"
SILOS="${SILOS:-3}"
CONFIGURATION="${CONFIGURATION:-Debug}"
case "$SILOS" in
  ''|*[!0-9]*|0) echo "SILOS must be a positive integer (got '$SILOS')" >&2; exit 2 ;;
esac
if [ -z "${ORLEANSSESSIONS_PG:-}" ]; then
  # Each silo holds at most its Maximum Pool Size connections (one pool per silo); 3 x 30 = 90 leaves room under 100.
  pool=$(( 90 / SILOS )); [ "$pool" -ge 5 ] || pool=5
  PG="$PG;Maximum Pool Size=$pool"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# With the default connection string, create the database when it is missing (needs psql; harmless otherwise).
if [ "$STORAGE" = postgres ] && [ -z "${ORLEANSSESSIONS_PG:-}" ] && command -v psql >/dev/null 2>&1; then
  if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'orleanssessions'" 2>/dev/null | grep -q 1; then
    PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE orleanssessions" 2>/dev/null \
      && echo "== created database orleanssessions" || true
  fi
fi

echo "== building the silo ($CONFIGURATION)"
dotnet build silo -c "$CONFIGURATION" -v quiet -nologo

logs="${TMPDIR:-/tmp}/orleanssessions-cluster"
mkdir -p "$logs"
pids=()
started_redis=""
stop_all() {
  trap '' INT TERM   # a second Ctrl+C (or a signal to the whole group) must not cut the clean-up short
  echo "== stopping ${#pids[@]} silo(s)"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$started_redis" ]; then
    echo "== shutting down the redis-server this script started (data kept in $started_redis)"
    redis-cli -h "$redis_host" -p "$redis_port" shutdown >/dev/null 2>&1 || true
  fi
}

if [ "$STORAGE" = redis ]; then
  endpoint="${REDIS%%,*}"
  redis_host="${endpoint%:*}"
  redis_port="${endpoint##*:}"
  [ "$redis_port" = "$endpoint" ] && redis_port=6379
  if [ "$(redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null)" != "PONG" ]; then
    if [ "$redis_host" != 127.0.0.1 ] && [ "$redis_host" != localhost ]; then
      echo "Redis at $endpoint does not answer" >&2
      exit 1
    fi
    command -v redis-server >/dev/null 2>&1 || { echo "redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }
    dir="$logs/redis-$redis_port"
    mkdir -p "$dir"
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync "$REDIS_APPENDFSYNC" \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    for _ in $(seq 1 100); do
      [ "$(redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null)" = "PONG" ] && break
      sleep 0.1
    done
    started_redis="$dir"
    echo "== started redis-server on $redis_host:$redis_port (appendonly, appendfsync $REDIS_APPENDFSYNC; data $dir)"
  fi
  STORAGE_ARGS=(--Storage:Provider=redis --Storage:ConnectionString="$REDIS")
  STORAGE_NAME="Redis ($REDIS)"
else
  STORAGE_ARGS=(--Storage:Provider=postgres --Storage:ConnectionString="$PG")
  STORAGE_NAME="PostgreSQL"
fi
TLS_ARGS=()
scheme=http
curl_tls=()
client_tls=""
if [ "$TLS" = 1 ]; then
  bash scripts/dev-certs.sh "$CERTS" >/dev/null
  TLS_ARGS=(--Security:Certificate="$CERTS/silo.pem" --Security:CertificateKey="$CERTS/silo.key" --Security:CaCertificate="$CERTS/ca.pem")
  scheme=https
  curl_tls=(--cacert "$CERTS/ca.pem")
  client_tls=" --cert $CERTS/client.pem --key $CERTS/client.key --ca $CERTS/ca.pem"
  echo "== TLS on: certificates of the development CA in $CERTS"
fi
trap stop_all EXIT
trap 'exit 130' INT TERM

for i in $(seq 0 $((SILOS - 1))); do
  dotnet "silo/bin/$CONFIGURATION/net10.0/OrleansSessions.Silo.dll" \
    "${STORAGE_ARGS[@]}" ${TLS_ARGS[@]+"${TLS_ARGS[@]}"} --Cluster:ClusterId="$CLUSTER_ID" \
    --Silo:SiloPort=$((11111 + i)) --Silo:GatewayPort=$((30000 + i)) --Silo:HttpPort=$((8080 + i)) \
    --Janitor:Period=00:00:10 "$@" >"$logs/silo-$i.log" 2>&1 &
  pids+=($!)
done

for i in $(seq 0 $((SILOS - 1))); do
  deadline=$((SECONDS + 90))
  until curl -fsS ${curl_tls[@]+"${curl_tls[@]}"} "$scheme://127.0.0.1:$((8080 + i))/healthz" >/dev/null 2>&1; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "silo $i exited:" >&2
      tail -n 20 "$logs/silo-$i.log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "silo $i did not answer /healthz within 90 s; log: $logs/silo-$i.log" >&2
      exit 1
    fi
    sleep 0.3
  done
  echo "== silo $i up (pid ${pids[$i]}): gateway 127.0.0.1:$((30000 + i)), dashboard $scheme://127.0.0.1:$((8080 + i))/ (log $logs/silo-$i.log)"
done

gateways=$(for i in $(seq 0 $((SILOS - 1))); do printf '127.0.0.1:%d ' $((30000 + i)); done)
echo "== cluster '$CLUSTER_ID' of $SILOS silos on $STORAGE_NAME$([ "$TLS" = 1 ] && echo ", mutual TLS"); try:"
echo "   dotnet run --project client -- --gateway 127.0.0.1:30001 --cluster-id $CLUSTER_ID$client_tls create alice"
echo "   dotnet run --project client -- --gateway 127.0.0.1:30001 --cluster-id $CLUSTER_ID$client_tls load --users 1000 --duration 10"
echo "   curl -s ${curl_tls[*]:+${curl_tls[*]} }$scheme://127.0.0.1:8080/api/cluster"
echo "   (gateways: $gateways) Ctrl+C stops the cluster."
wait
