#!/usr/bin/env bash
# The server's instructions per request, counted by callgrind: unlike requests a second,
# the count repeats on this noisy machine (the same binary and workload give the same
# figure within a fraction of a percent), so a small change on the hot path can be
# compared A/B. Counts cover every thread of the server (handlers, group-commit writers,
# Redis and PostgreSQL drivers, the once-a-second maintenance); not Redis or PostgreSQL.
#   cargo build --release -p madoguchi -p loadtest
#   bash loadtest/instructions.sh [tickets|booking|refusals|trivial|congestion] [REQUESTS]
# BIN=<folder> picks the binaries (e.g. two builds side by side).
# WHO=generator counts the load generator's instructions per request instead (the server
# runs natively): the generator shares the two cores with the server, so its cost is in
# every figure. Counted as the difference of two runs, so goose's start-up drops out.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release}
OUT=${OUT:-target/loadtest/instructions}
WHAT=${1:-tickets}
REQUESTS=${2:-2000}
USERS=4
mkdir -p "$OUT"
. loadtest/lib.sh

case $WHAT in
  tickets) config=loadtest/config/throughput-city.toml
    scenario=(LOADTEST_TICKET_OFFICE=bench) ;;
  refusals) config=app/config/sample-city.toml
    scenario=(LOADTEST_FULL_SLOT=2027-02-26T09:00:00+09:00 LOADTEST_BOOKING_OFFICE=main) ;;
  booking) config=loadtest/config/throughput-city.toml
    scenario=(LOADTEST_BOOKING_OFFICE=bench LOADTEST_BOOKING_DAY=2027-01-14 LOADTEST_BOOKING_TO=2027-02-10
      LOADTEST_HOT_SLOTS=10 LOADTEST_MOVE_ON=1) ;;
  trivial) config=loadtest/config/throughput-city.toml; scenario=() ;;
  congestion) config=app/config/sample-city.toml; scenario=(LOADTEST_KIOSK_OFFICE=main) ;;
  *) echo "unknown workload: $WHAT"; exit 2 ;;
esac

fresh_database
rm -f "$OUT"/callgrind.out.*
REDIS_PREFIX="cg$$x$RANDOM"
server=("$BIN/madoguchi")
[ "${WHO:-server}" = server ] && server=(valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" "${server[@]}")
MADOGUCHI_CONFIG="$config" MADOGUCHI_CLOCK="2027-01-12T08:30:00+09:00@1" MADOGUCHI_BIND="127.0.0.1:$LT_PORT" \
  MADOGUCHI_REDIS_PREFIX="$REDIS_PREFIX" MADOGUCHI_TRUSTED_PROXIES='["127.0.0.1"]' RUST_LOG=warn \
  "${server[@]}" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
trap stop_server EXIT
# Under callgrind start-up (migrations, loading the hot state) takes tens of seconds.
for _ in $(seq 1 1200); do
  curl -fsS "$HOST/health/ready" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$OUT/server.log"; exit 1; }
  sleep 0.1
done
if [ "$WHAT" = refusals ]; then
  for i in 1 2; do
    curl -fsS -o /dev/null -X POST "$HOST/api/v1/reservations" -H 'content-type: application/json' \
      -H "X-Forwarded-For: 10.9.9.$i" \
      -d "{\"office_id\":\"main\",\"procedure\":\"cert_renewal\",\"start\":\"2027-02-26T09:00:00+09:00\",\"certificate_expiry\":\"2027-03-28\",
           \"resident\":{\"name\":\"満席 $i\",\"email\":\"full$i@example.jp\"},\"birth_date\":\"1970-01-0$i\"}"
  done
fi
# A warm-up of the same requests (connections, caches, lazily built state), then count.
run() {
  env "${scenario[@]}" ${GENERATOR_PREFIX:-} "$BIN/loadtest" --host "$HOST" --scenarios "$WHAT" --users "$USERS" --increase-rate "$USERS" \
    --iterations "$(( $1 / USERS ))" --quiet --no-print-metrics --report-file "$OUT/$WHAT-$1.json" >/dev/null
}
run 200
if [ "${WHO:-server}" = generator ]; then
  counted() {
    GENERATOR_PREFIX="valgrind --tool=callgrind --callgrind-out-file=$OUT/callgrind.out.gen$1" run "$1" 2>/dev/null
    awk '/^summary:/ {s += $2} END {print s}' "$OUT/callgrind.out.gen$1"
  }
  small=$(counted 200); large=$(counted $(( 200 + REQUESTS )))
  echo "$WHAT: $(( (large - small) / REQUESTS )) generator instructions per request ($REQUESTS requests, $(basename "$BIN"))"
  exit 0
fi
callgrind_control -z "$SERVER_PID" >/dev/null 2>&1
run "$REQUESTS"
callgrind_control -d "$SERVER_PID" >/dev/null 2>&1
total=$(cat "$OUT"/callgrind.out.* | awk '/^summary:/ {s += $2} END {print s}')
echo "$WHAT: $(( total / REQUESTS )) instructions per request ($REQUESTS requests, $total in all, $(basename "$BIN"))"
