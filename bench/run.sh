#!/usr/bin/env bash
# Runs every load scenario against a freshly built server, on SQLite and
# (when BENCH_POSTGRES_URL is set) PostgreSQL, and prints a Markdown table.
#
#   bench/run.sh                                   # SQLite only, 10 s per scenario
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/bench?sslmode=disable bench/run.sh
#   BENCH_DURATION=20s BENCH_CONCURRENCY=16 bench/run.sh
#
# Loopback only; each scenario starts its own server on a new database.
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
cd "$(dirname "$0")/.."
d=${BENCH_DURATION:-10s}
c=${BENCH_CONCURRENCY:-16}
bin=$(mktemp -d)/agentgate
go build -o "$bin" ./cmd/agentgate
go build -o "$bin-loadgen" ./bench/loadgen

dbs=(sqlite)
[ -n "${BENCH_POSTGRES_URL:-}" ] && dbs+=(postgres)

echo "| scenario | db | ops/s | p50 ms | p95 ms | p99 ms | errors | server CPU s | peak RSS MB | note |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for db in "${dbs[@]}"; do
  dburl=""
  if [ "$db" = postgres ]; then
    # A fresh schema per run so every scenario starts empty.
    schema="bench_$(date +%s%N)"
    psql "$BENCH_POSTGRES_URL" -qc "CREATE SCHEMA $schema" >/dev/null
    dburl="${BENCH_POSTGRES_URL}&search_path=$schema"
  fi
  for sc in create create-auto get list roundtrip waiters idle; do
    extra=()
    case $sc in
      waiters) extra=(-waiters 10000 -d 15s) ;;
      roundtrip) extra=(-waiters 1000) ;;
      idle) extra=(-d 5s) ;;
    esac
    # Let the previous scenario's writes settle: right after the
    # write-heavy ones, list measured up to 20 % lower.
    sync; sleep 3
    if [ "$db" = postgres ]; then
      psql "$BENCH_POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
    fi
    "$bin-loadgen" -bin "$bin" -db "$dburl" -scenario "$sc" -c "$c" -d "$d" "${extra[@]}" -json |
      python3 -c 'import json,sys
r=json.load(sys.stdin)
print("| {scenario} | {database} | {opsPerSec:.0f} | {p50ms:.2f} | {p95ms:.2f} | {p99ms:.2f} | {errors} | {serverCpuSeconds:.1f} | {serverPeakRssMB:.1f} | {n} |".format(n=(r.get("note") or "")+(" startup %.0f ms"%r["startupMs"] if r.get("startupMs") else ""), **r))'
  done
  [ "$db" = postgres ] && psql "$BENCH_POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
done
