#!/usr/bin/env bash
# PostgreSQL's CPU per booked row, for a schema variant: a fresh database with the
# reservations migrations up to UPTO (default: all), 100,000 rows, a checkpoint, then
# pgbench writing ten rows per statement from 8 clients for SECS seconds.
#   bash loadtest/ledger/run.sh v4|v7 [UPTO]
# e.g. `run.sh v4 20261130000004` (before 1 December) against `run.sh v7`.
# CPU is every PostgreSQL process's, exited backends included (the postmaster's
# children's time), so it counts the value generation of the script too: compare
# variants, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")"
ids=$1 upto=${2:-99999999999999} secs=${SECS:-15}
db=ledger_bench
export PGOPTIONS="-c client_min_messages=warning"
admin=(psql -h 127.0.0.1 -U postgres -qAt)
"${admin[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
for m in ../../migrations/postgres/*.sql; do
  v=$(basename "$m" | cut -d_ -f1)
  [ "$v" -le "$upto" ] && "${admin[@]}" -d $db -f "$m" >/dev/null
done
case $ids in
  v4) id="gen_random_uuid()" ;;
  # 48 bits of Unix milliseconds, then random bits, as UUIDv7 lays them out.
  v7) id="(lpad(to_hex((extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(random()::text), 1, 20))::uuid" ;;
  *) echo "ids: v4 or v7" >&2; exit 2 ;;
esac
script=$(mktemp)
trap 'rm -f "$script"' EXIT
sed "s/__ID__/$id/" insert.sql >"$script"
"${admin[@]}" -d $db -c "$(sed 's/generate_series(1, 10)/generate_series(1, 100000)/' "$script")" -c checkpoint >/dev/null
pg_cpu() { # clock ticks of every PostgreSQL process, and of its exited children
  local t=0 p
  for p in $(pgrep -x postgres); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $((t + $(awk '{print $16 + $17}' "/proc/$(pgrep -o -x postgres)/stat")))
}
t0=$(pg_cpu)
out=$(pgbench -n -M prepared -f "$script" -c 8 -j 2 -T "$secs" -h 127.0.0.1 -U postgres $db 2>&1)
t1=$(pg_cpu)
tx=$(echo "$out" | awk '/actually processed/ {print $NF}' | cut -d/ -f1)
echo "$ids up to $upto: $((tx * 10 / secs)) rows/s, PostgreSQL $(awk -v c=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$tx" 'BEGIN {printf "%.1f", c * 1e6 / hz / (n * 10)}') µs CPU per row"
"${admin[@]}" -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
