#!/usr/bin/env bash
# One command for the main job: build, start a silo on the in-memory default with a 6 s idle timeout (so the
# seed's 14:00 -> 14:50 timeline plays in 10 s), wait for /healthz, run the client's demo against it, stop the silo.
#
# Environment (optional): SILO_PORT (11111), GATEWAY_PORT (30000), HTTP_PORT (8080), IDLE_TIMEOUT (00:00:06),
# CONFIGURATION (Debug). Extra arguments go to the demo (e.g. --lang es).
set -euo pipefail
cd "$(dirname "$0")/.."

SILO_PORT="${SILO_PORT:-11111}"
GATEWAY_PORT="${GATEWAY_PORT:-30000}"
HTTP_PORT="${HTTP_PORT:-8080}"
IDLE_TIMEOUT="${IDLE_TIMEOUT:-00:00:06}"
CONFIGURATION="${CONFIGURATION:-Debug}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "== building silo and client ($CONFIGURATION)"
dotnet build silo -c "$CONFIGURATION" -v quiet -nologo
dotnet build client -c "$CONFIGURATION" -v quiet -nologo

log="$(mktemp -t orleanssessions-silo.XXXXXX.log)"
echo "== starting the silo (idle timeout $IDLE_TIMEOUT; log: $log)"
dotnet "silo/bin/$CONFIGURATION/net10.0/OrleansSessions.Silo.dll" \
  --Silo:SiloPort="$SILO_PORT" --Silo:GatewayPort="$GATEWAY_PORT" --Silo:HttpPort="$HTTP_PORT" \
  --Sessions:IdleTimeout="$IDLE_TIMEOUT" --Sessions:WarningBefore=00:00:02 >"$log" 2>&1 &
silo=$!

stop_silo() {
  if kill -0 "$silo" 2>/dev/null; then
    echo "== stopping the silo (graceful: SIGTERM)"
    kill -TERM "$silo" 2>/dev/null || true
    wait "$silo" 2>/dev/null || true
  fi
}
trap stop_silo EXIT

deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1; do
  if ! kill -0 "$silo" 2>/dev/null; then
    echo "the silo exited before serving:" >&2
    cat "$log" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "the silo did not answer /healthz within 60 s; log: $log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "== silo up: dashboard http://127.0.0.1:$HTTP_PORT/ , gateway 127.0.0.1:$GATEWAY_PORT"

echo "== dotnet run --project client -- demo"
status=0
dotnet "client/bin/$CONFIGURATION/net10.0/OrleansSessions.ClientApp.dll" --gateway "127.0.0.1:$GATEWAY_PORT" demo "$@" || status=$?
exit "$status"
