#!/usr/bin/env bash
# Packs the libraries under src/ into NuGet packages (with symbols, .snupkg) in artifacts/packages (or $1):
# OrleansSessions.Abstractions, OrleansSessions, OrleansSessions.Client, OrleansSessions.AspNetCore (when present),
# OrleansSessions.PostgreSql and OrleansSessions.Redis. VERSION overrides the version (default: VersionPrefix in
# src/Directory.Build.props).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-artifacts/packages}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
version_args=()
if [ -n "${VERSION:-}" ]; then
  version_args=("-p:Version=$VERSION")
fi
for project in src/*/*.csproj; do
  dotnet pack "$project" -c Release -o "$out" -nologo -v quiet "${version_args[@]}"
done
ls -1 "$out"
