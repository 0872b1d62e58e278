#!/usr/bin/env bash
# The benchmark of docs/PERFORMANCE.md: every figure with its baseline measured in the
# same run (this machine is noisy, so ratios are what we compare). Release binaries:
#   cargo build --release -p madoguchi -p loadtest && bash loadtest/run.sh [section…]
# Sections: ceiling refusals bookings naive versus latency tickets congestion redis sse rush
# backends room roomstatus rebuild reaper (default: all).
# Results: target/loadtest/bench/<section>*.json (goose reports) and summary.txt.
# REPEAT=N alternates the trivial baseline and the measured scenario N times for the
# refusals, tickets and congestion ratios and reports the median (SECONDS_PER_RUN each);
# for `versus` it alternates the naive design and our bookings (default 3 times).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release}
OUT=${OUT:-target/loadtest/bench}
USERS=${USERS:-64}          # concurrent goose users (connections) for throughput runs
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
mkdir -p "$OUT"
. loadtest/lib.sh
trap stop_server EXIT
SECTIONS=${*:-ceiling refusals bookings naive versus latency tickets congestion redis sse rush backends room roomstatus rebuild reaper}
SAMPLE=app/config/sample-city.toml
BENCH=loadtest/config/throughput-city.toml
# A Tuesday; bookings for 2027-02-26 open that morning at 08:30 (45 days ahead).
MORNING=2027-01-12T08:30:00+09:00

log() { echo "$*" | tee -a "$OUT/summary.txt"; }

# Books both seats (capacity 2) of FULL_SLOT at the sample city's main office.
FULL_SLOT=2027-02-26T09:00:00+09:00
fill_slot() {
  for i in 1 2; do
    curl -fsS -o /dev/null -X POST "$HOST/api/v1/reservations" -H 'content-type: application/json' \
      -H "X-Forwarded-For: 10.9.9.$i" \
      -d "{\"office_id\":\"main\",\"procedure\":\"cert_renewal\",\"start\":\"$FULL_SLOT\",\"certificate_expiry\":\"2027-03-28\",
           \"resident\":{\"name\":\"満席 $i\",\"email\":\"full$i@example.jp\"},\"birth_date\":\"1970-01-0$i\"}"
  done
}

# goose NAME SCENARIOS [USERS] — one goose run with the JSON report in $OUT/NAME.json,
# and where the two cores went: the server, Redis and the load generator itself.
goose() {
  local name=$1 scenarios=$2 users=${3:-$USERS}
  local redis_pid server0 redis0 pg0 gen_cpu
  redis_pid=$(pgrep -x redis-server | head -1)
  server0=$(cpu_ticks "$SERVER_PID"); redis0=$(cpu_ticks "$redis_pid"); pg0=$(pg_ticks)
  gen_cpu=$( { /usr/bin/time -f "%U %S" "$BIN/loadtest" --host "$HOST" --scenarios "$scenarios" --users "$users" \
    --increase-rate "$users" --run-time "${SECONDS_PER_RUN}s" --quiet --no-print-metrics --report-graph-data \
    --report-file "$OUT/$name.json" >>"$OUT/summary.txt"; } 2>&1 | tail -1)
  python3 loadtest/report.py summary "$OUT/$name.json" | tee -a "$OUT/summary.txt"
  local hz; hz=$(getconf CLK_TCK)
  secs() { awk -v t="$1" -v hz="$hz" 'BEGIN {printf "%.1f", t / hz}'; }
  echo "$name cpu seconds: server $(secs $(( $(cpu_ticks "$SERVER_PID") - server0 ))) redis $(secs $(( $(cpu_ticks "$redis_pid") - redis0 ))) postgres $(secs $(( $(pg_ticks) - pg0 ))) generator $(echo "$gen_cpu" | awk '{printf "%.1f", $1 + $2}') (of $(( 2 * SECONDS_PER_RUN )) available)" \
    | tee -a "$OUT/summary.txt"
}

# paired NAME SCENARIO [VAR=value…] — the trivial endpoint and SCENARIO on the same
# server, alternately, REPEAT times (default 1), then the median ratio of their rates:
# this machine's speed drifts by tens of percent within minutes, so one pair can mislead.
paired() {
  local name=$1 scenario=$2 i suffix reports=()
  shift 2
  for i in $(seq 1 "${REPEAT:-1}"); do
    suffix=""; [ "${REPEAT:-1}" -gt 1 ] && suffix="-$i"
    goose "$name-trivial$suffix" trivial
    (export "$@"; goose "$name$suffix" "$scenario")
    reports+=("$OUT/$name-trivial$suffix.json" "$OUT/$name$suffix.json")
  done
  python3 loadtest/report.py ratio "${reports[@]}" | tee -a "$OUT/summary.txt"
}

# naive CLIENTS SLOTS [SUFFIX] — the naive FOR UPDATE design in pgbench, latencies logged
# for p99; its rate also lands in $OUT/naive-cCLIENTS-sSLOTS[SUFFIX]-rate.txt for `versus`.
naive() {
  local clients=$1 slots=$2 name="naive-c$1-s$2${3:-}"
  local threads=$(( clients < 2 ? 1 : 2 ))
  psql "$PG_ADMIN" -qAt -c "DROP DATABASE IF EXISTS naive WITH (FORCE)" -c "CREATE DATABASE naive" >/dev/null
  psql postgres://postgres@127.0.0.1:5432/naive -q -f loadtest/naive/schema.sql 2>/dev/null
  rm -f "$OUT/$name".*
  (cd "$OUT" && pgbench -n -f "$OLDPWD/loadtest/naive/book.sql" -D slots="$slots" -c "$clients" -j "$threads" \
    -T "$SECONDS_PER_RUN" -l --log-prefix="$name" postgres://postgres@127.0.0.1:5432/naive 2>&1 \
    | grep -E "^(tps|latency|number of failed)") | tee -a "$OUT/summary.txt"
  python3 loadtest/report.py pgbench "$OUT/$name".* | tee -a "$OUT/summary.txt" "$OUT/$name-rate.txt"
  rm -f "$OUT/$name".*
}

# book HOT [SUFFIX] — successful durable bookings on HOT slots at a time (a slot that
# fills leaves the hot set: LOADTEST_MOVE_ON) on a fresh server, then the invariant check.
book() {
  local hot=$1 suffix=${2:-}
  start_server "$BENCH" "$MORNING@1"
  rm -f "$OUT/acks-bookings-$hot$suffix.jsonl"
  LOADTEST_BOOKING_OFFICE=bench LOADTEST_BOOKING_DAY=2027-01-14 LOADTEST_BOOKING_TO=2027-02-10 \
    LOADTEST_HOT_SLOTS=$hot LOADTEST_MOVE_ON=1 LOADTEST_ACKS="$OUT/acks-bookings-$hot$suffix.jsonl" \
    goose "bookings-hot$hot$suffix" booking
  "$BIN/loadtest" check --database-url "$DATABASE_URL" --acks "$OUT/acks-bookings-$hot$suffix.jsonl" | tee -a "$OUT/summary.txt"
  stop_server
}

for section in $SECTIONS; do
  log "== $section ($(date -u +%FT%TZ), $(nproc) cores, $USERS users, ${SECONDS_PER_RUN}s)"
  case $section in
  ceiling)
    start_server "$BENCH" "$MORNING@1"
    goose trivial trivial
    stop_server ;;
  refusals)
    # Fill one slot of the sample city (capacity 2), then everyone asks for it; the
    # trivial endpoint of the same server under the same load is the ceiling.
    start_server "$SAMPLE" "$MORNING@1"
    slot=$FULL_SLOT
    fill_slot
    paired refusals refusals LOADTEST_FULL_SLOT=$slot LOADTEST_BOOKING_OFFICE=main
    stop_server ;;
  bookings)
    # Successful durable bookings with contention on 1 and on 10 slots at a time, against
    # the naive design of the section `naive`.
    for hot in 1 10; do book "$hot"; done ;;
  versus)
    # The booking ratios from alternating runs: the naive design, then ours, on one and on
    # ten hot slots, REPEAT times (default 3); then each run's successful bookings over the
    # naive rate just before it, and the median. The naive design follows the disk's flush
    # time and ours the CPU, and both drift within minutes, so one pair can mislead.
    for i in $(seq 1 "${REPEAT:-3}"); do
      for hot in 1 10; do
        naive "$USERS" "$hot" "-$i"
        book "$hot" "-$i"
      done
    done
    for hot in 1 10; do
      pairs=()
      for i in $(seq 1 "${REPEAT:-3}"); do pairs+=("$OUT/naive-c$USERS-s$hot-$i-rate.txt" "$OUT/bookings-hot$hot-$i.json"); done
      python3 loadtest/report.py versus "${pairs[@]}" | tee -a "$OUT/summary.txt"
    done ;;
  reaper)
    # What settling a booking costs later: the reaper confirms every claim a deadline
    # (60 s) after it was made, outside any booking run's window. Books for
    # SECONDS_PER_RUN, then measures every process's CPU from the end of the run until
    # the office's pending claims are all settled (at most REAPER_WAIT_SECONDS, 600),
    # per settled claim.
    start_server "$BENCH" "$MORNING@1"
    LOADTEST_BOOKING_OFFICE=bench LOADTEST_BOOKING_DAY=2027-01-14 LOADTEST_BOOKING_TO=2027-02-10 \
      LOADTEST_HOT_SLOTS=10 LOADTEST_MOVE_ON=1 goose reaper-bookings booking
    pending="$REDIS_PREFIX:{o:bench}:pending"
    claims=$(redis-cli -u "$REDIS_URL" zcard "$pending")
    redis_pid=$(pgrep -x redis-server | head -1)
    server0=$(cpu_ticks "$SERVER_PID"); redis0=$(cpu_ticks "$redis_pid"); pg0=$(pg_ticks); t0=$(date +%s)
    # Polled once a second: a measurement, not a synchronisation.
    while [ "$(redis-cli -u "$REDIS_URL" zcard "$pending")" -gt 0 ] && [ $(( $(date +%s) - t0 )) -lt "${REAPER_WAIT_SECONDS:-600}" ]; do sleep 1; done
    awk -v n="$claims" -v s=$(( $(cpu_ticks "$SERVER_PID") - server0 )) -v r=$(( $(cpu_ticks "$redis_pid") - redis0 )) \
      -v p=$(( $(pg_ticks) - pg0 )) -v hz="$(getconf CLK_TCK)" -v secs=$(( $(date +%s) - t0 )) -v left="$(redis-cli -u "$REDIS_URL" zcard "$pending")" \
      'BEGIN { printf "reaper: %d claims settled (%d left) within %d s of the run'"'"'s end; CPU per claim: server %.1f µs, redis %.1f µs, postgres %.1f µs\n", n - left, left, secs, s * 1e6 / hz / (n - left), r * 1e6 / hz / (n - left), p * 1e6 / hz / (n - left) }' \
      | tee -a "$OUT/summary.txt"
    stop_server ;;
  naive)
    for slots in 1 10; do naive "$USERS" "$slots"; done
    # The durable floor: a bare INSERT and commit per transaction.
    (pgbench -n -f loadtest/naive/insert.sql -c "$USERS" -j 2 -T "$SECONDS_PER_RUN" postgres://postgres@127.0.0.1:5432/naive 2>&1 \
      | grep -E "^(tps|latency)" | sed 's/^/insert-only /') | tee -a "$OUT/summary.txt" ;;
  latency)
    # The booking p99 at the loads where the naive design's p99 passes 40 ms: both at
    # LATENCY_CLIENTS concurrent clients, on one and on ten hot slots.
    for clients in ${LATENCY_CLIENTS:-4 8 16 32}; do
      for hot in 1 10; do
        naive "$clients" "$hot"
        start_server "$BENCH" "$MORNING@1"
        LOADTEST_BOOKING_OFFICE=bench LOADTEST_BOOKING_DAY=2027-01-14 LOADTEST_BOOKING_TO=2027-02-10 \
          LOADTEST_HOT_SLOTS=$hot LOADTEST_MOVE_ON=1 goose "latency-c$clients-hot$hot" booking "$clients"
        stop_server
      done
    done ;;
  tickets)
    for mode in ${TICKET_MODES:-shared pooled}; do
      extra=()
      [ "$mode" = pooled ] && extra=(MADOGUCHI_REDIS_POOL_SIZE=16)
      start_server "$BENCH" "$MORNING@1" "${extra[@]}"
      rm -f "$OUT/acks-tickets-$mode.jsonl"
      paired "tickets-$mode" tickets LOADTEST_TICKET_OFFICE=bench LOADTEST_ACKS="$OUT/acks-tickets-$mode.jsonl"
      "$BIN/loadtest" check --database-url "$DATABASE_URL" --host "$HOST" --acks "$OUT/acks-tickets-$mode.jsonl" | tee -a "$OUT/summary.txt"
      stop_server
    done ;;
  congestion)
    # The main office of the sample city (3 lines, 6 counters): a realistic page size.
    start_server "$SAMPLE" "$MORNING@1"
    paired congestion congestion LOADTEST_KIOSK_OFFICE=main
    stop_server ;;
  redis)
    # The raw operations under the same 2 cores: Redis round trips and PostgreSQL commits.
    redis-benchmark -q -n 200000 -c "$USERS" -t ping,set,get,incr 2>&1 | tr '\r' '\n' | grep -v '^$' | grep "requests per second" | tee -a "$OUT/summary.txt" ;;
  sse)
    start_server "$BENCH" "$MORNING@1"
    "$BIN/loadtest" sse --host "$HOST" --office bench --clients "${SSE_CLIENTS:-10000}" --changes 20 --pid "$SERVER_PID" 2>&1 \
      | tail -5 | tee -a "$OUT/summary.txt" || true
    stop_server ;;
  room)
    # ROOM_VISITORS visitors arriving over one minute for the 200 seats of a release that
    # opens 20 s after the start (the first arrivals form the pre-queue); then the same
    # visitors booking straight away without a room, as the baseline of the booking p99.
    # ROOM_CAPACITY seats per slot (100 slots): 2 gives 200 seats, 10 the issue's 1,000.
    visitors=${ROOM_VISITORS:-4000}
    capacity=${ROOM_CAPACITY:-2}
    seats=$(( capacity * 100 ))
    rate=$(( visitors / 60 + 1 ))
    room_env=(LOADTEST_ROOM=release LOADTEST_ROOM_OFFICE=hall LOADTEST_ROOM_FROM=2027-01-18 LOADTEST_ROOM_TO=2027-01-22
      LOADTEST_KIOSK_OFFICE=hall LOADTEST_SPEED=1)
    # ROOM_START=2027-01-12T08:30:00+09:00 skips the pre-queue (every admission is then
    # first come, first served, which the report checks); ROOM_VARIANTS picks the runs.
    for variant in ${ROOM_VARIANTS:-room direct}; do
      sed -e "s/^counters = 4$/counters = $(( capacity > 4 ? capacity : 4 ))/" \
        -e "s/capacity = 2,/capacity = $capacity,/" loadtest/config/room-city.toml >"$OUT/room-city.toml"
      [ "$variant" = room ] && sed "s/^admissions_per_minute = 600$/admissions_per_minute = ${ROOM_RATE:-600}/" \
        loadtest/config/room.toml >>"$OUT/room-city.toml"
      start_server "$OUT/room-city.toml" "${ROOM_START:-2027-01-12T08:29:40+09:00}@1"
      rm -f "$OUT/acks-room-$variant.jsonl"
      direct=0; [ "$variant" = direct ] && direct=1
      env "${room_env[@]}" LOADTEST_ROOM_DIRECT=$direct LOADTEST_ACKS="$OUT/acks-room-$variant.jsonl" \
        "$BIN/loadtest" --host "$HOST" --scenarios room --users "$visitors" --increase-rate "$rate" \
        --iterations 1 --quiet --no-print-metrics --report-file "$OUT/room-$variant.json" >>"$OUT/summary.txt"
      python3 loadtest/report.py summary "$OUT/room-$variant.json" | sed "s/^/room-$variant /" | tee -a "$OUT/summary.txt"
      "$BIN/loadtest" check --database-url "$DATABASE_URL" --host "$HOST" --acks "$OUT/acks-room-$variant.jsonl" | tee -a "$OUT/summary.txt"
      stop_server
    done
    # 08:30:00 JST in ms, when the room opened.
    python3 loadtest/report.py room "$OUT/acks-room-room.jsonl" 1799710200000 "$seats" docs/perf "${ROOM_PLOT:-room}" | tee -a "$OUT/summary.txt" ;;
  roomstatus)
    # The cost of a waiting-room status answer: USERS visitors join the release's room in
    # its pre-queue (the clock starts 3 s before the opening), then poll without pause
    # through the opening draw; admission is slowed to one a minute so that (nearly)
    # every answer is "waiting" with a drawn position. The trivial endpoint of the same
    # server follows as the ceiling.
    cp loadtest/config/room-city.toml "$OUT/room-city.toml"
    sed "s/^admissions_per_minute = 600$/admissions_per_minute = 1/" loadtest/config/room.toml >>"$OUT/room-city.toml"
    start_server "$OUT/room-city.toml" "2027-01-12T08:29:57+09:00@1"
    # Not `paired`: the visitors must join before the opening, so the status runs first.
    LOADTEST_ROOM=release goose roomstatus roomstatus
    goose roomstatus-trivial trivial
    stop_server ;;
  rush)
    # The simulated morning 08:30–12:00 in 3.5 minutes (speed 60): walk-ins on the hourly
    # curve, 12 counters with service stretching at 10:30, a booking opening on the first
    # ten slots of 2027-02-26, residents refused on a full slot, congestion readers.
    start_server "$SAMPLE" "$MORNING@60"
    TOKENS=$(tokens "$SAMPLE" main north south mall)
    rm -f "$OUT/acks-rush.jsonl"
    LOADTEST_TOKENS="$TOKENS" LOADTEST_SPEED=60 LOADTEST_ACKS="$OUT/acks-rush.jsonl" \
      LOADTEST_BOOKING_DAY=2027-02-26 LOADTEST_HOT_SLOTS=10 \
      LOADTEST_WEIGHTS="kiosk=100,booking=30,staff=12,public=60" \
      "$BIN/loadtest" --host "$HOST" --scenarios kiosk,booking,staff,public --users 202 --increase-rate 202 \
      --run-time 210s --quiet --no-print-metrics --report-graph-data --report-file "$OUT/rush.json" \
      --request-log "$OUT/rush-requests.csv" --request-format csv | tee -a "$OUT/summary.txt"
    python3 loadtest/report.py summary "$OUT/rush.json" | tee -a "$OUT/summary.txt"
    "$BIN/loadtest" check --database-url "$DATABASE_URL" --host "$HOST" --acks "$OUT/acks-rush.jsonl" \
      --export "$OUT/rush-tickets.csv" | tee -a "$OUT/summary.txt"
    python3 loadtest/report.py plot "$OUT/rush.json" "$OUT/rush-tickets.csv" docs/perf "$OUT/rush-requests.csv"
    stop_server ;;
  backends)
    # The same load on both setups (issue 5): production (PostgreSQL + Redis) and the
    # embedded default (SQLite + in-process hot state), each with its own ceiling.
    for mode in production embedded; do
      export MODE=$mode
      start_server "$SAMPLE" "$MORNING@1"
      slot=$FULL_SLOT
      fill_slot
      goose "$mode-trivial" trivial
      LOADTEST_FULL_SLOT=$slot LOADTEST_BOOKING_OFFICE=main goose "$mode-refusals" refusals
      LOADTEST_KIOSK_OFFICE=main goose "$mode-congestion" congestion
      stop_server
      start_server "$BENCH" "$MORNING@1"
      LOADTEST_BOOKING_OFFICE=bench LOADTEST_BOOKING_DAY=2027-01-14 LOADTEST_BOOKING_TO=2027-02-10 \
        LOADTEST_HOT_SLOTS=10 LOADTEST_MOVE_ON=1 goose "$mode-bookings" booking
      LOADTEST_TICKET_OFFICE=bench goose "$mode-tickets" tickets
      stop_server
    done
    unset MODE ;;
  rebuild)
    # A large office rebuilt from the ledger while residents book (ARCHITECTURE
    # "Rebuild"): REBUILD_FILL_SECONDS of bookings fill the office, then the bookings run
    # again on copies of that ledger, without a periodic rebuild during the run (900 s)
    # and with one every 5 s. Reported: Redis's slowest commands (SLOWLOG, over 1 ms),
    # the ledger's corrections of the hot state, and each rebuild's duration.
    book_hot10() { LOADTEST_BOOKING_OFFICE=bench LOADTEST_BOOKING_DAY=2027-01-14 LOADTEST_BOOKING_TO=2027-02-10 \
      LOADTEST_HOT_SLOTS=10 LOADTEST_MOVE_ON=1 "$@"; }
    start_server "$BENCH" "$MORNING@1"
    (SECONDS_PER_RUN=${REBUILD_FILL_SECONDS:-$SECONDS_PER_RUN}; book_hot10 goose rebuild-fill booking >/dev/null)
    stop_server
    psql "$PG_ADMIN" -qAt -c "DROP DATABASE IF EXISTS ${LT_DB}_filled" -c "ALTER DATABASE $LT_DB RENAME TO ${LT_DB}_filled" >/dev/null
    log "rebuild: the office holds $(psql "postgres://postgres@127.0.0.1:5432/${LT_DB}_filled" -qAt -c 'SELECT count(*) FROM reservations') reservations"
    slowlog_was=$(redis-cli config get slowlog-log-slower-than | tail -1)
    slowlog_len_was=$(redis-cli config get slowlog-max-len | tail -1)
    for every in 900 5; do
      rm -f "$OUT/acks-rebuild-$every.jsonl"
      DB_TEMPLATE=${LT_DB}_filled RUST_LOG=warn,madoguchi::service::booking=info \
        start_server "$BENCH" "$MORNING@1" MADOGUCHI_RECONCILE_INTERVAL_SECS=$every
      redis-cli config set slowlog-log-slower-than 1000 >/dev/null
      redis-cli config set slowlog-max-len 100000 >/dev/null
      redis-cli slowlog reset >/dev/null
      LOADTEST_ACKS="$OUT/acks-rebuild-$every.jsonl" book_hot10 goose "rebuild-every$every" booking
      log "rebuild-every$every: $(curl -fsS "$HOST/metrics" | grep -E '^madoguchi_hot_state_corrections_total' || echo 'madoguchi_hot_state_corrections_total 0')"
      log "rebuild-every$every: rebuilds took (ms): $(grep -o '"elapsed_ms":[0-9]*' "$OUT/server.log" | cut -d: -f2 | tr '\n' ' ')"
      redis-cli slowlog get 100000 >"$OUT/rebuild-every$every.slowlog"
      python3 loadtest/report.py slowlog "$OUT/rebuild-every$every.slowlog" | sed "s/^/rebuild-every$every: /" | tee -a "$OUT/summary.txt"
      "$BIN/loadtest" check --database-url "$DATABASE_URL" --acks "$OUT/acks-rebuild-$every.jsonl" | tee -a "$OUT/summary.txt"
      stop_server
    done
    redis-cli config set slowlog-log-slower-than "$slowlog_was" >/dev/null
    redis-cli config set slowlog-max-len "$slowlog_len_was" >/dev/null
    psql "$PG_ADMIN" -qAt -c "DROP DATABASE IF EXISTS ${LT_DB}_filled" >/dev/null ;;
  *) echo "unknown section $section"; exit 2 ;;
  esac
done
