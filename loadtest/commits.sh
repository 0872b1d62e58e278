#!/usr/bin/env bash
# One load run on a fresh server, and what it cost per request: each process's CPU and
# context switches, the answers with p50/p99, and the group commits (how many, how many
# of a single row). For A/B of two binaries or settings, alternated by hand:
#   BIN=/tmp/a bash loadtest/commits.sh; BIN=/tmp/b bash loadtest/commits.sh
# SCEN booking (default; HOT hot slots, default 10) or tickets; USERS (64); SECS (15);
# SERVER_ENV, e.g. "MADOGUCHI_LEDGER_WRITERS=1". Reports land in OUT
# (target/loadtest/commits).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release}
OUT=${OUT:-target/loadtest/commits}
USERS=${USERS:-64}
mkdir -p "$OUT"
. loadtest/lib.sh
trap stop_server EXIT

# Context switches (voluntary and not) of every thread of the given processes.
switches() {
  local t=0 p
  for p in "$@"; do
    t=$((t + $(cat /proc/"$p"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}')))
  done
  echo "$t"
}
# "<ticks> <switches>" of the server, Redis and PostgreSQL, in that order.
sample() {
  echo "$(cpu_ticks "$SERVER_PID") $(switches "$SERVER_PID")"
  echo "$(cpu_ticks "$redis_pid") $(switches "$redis_pid")"
  # shellcheck disable=SC2046 # one word per PostgreSQL process
  echo "$(pg_ticks) $(switches $(pgrep -x postgres))"
}

start_server loadtest/config/throughput-city.toml "2027-01-12T08:30:00+09:00@1"
redis_pid=$(pgrep -x redis-server | head -1)
before=$(sample)
LOADTEST_BOOKING_OFFICE=bench LOADTEST_BOOKING_DAY=2027-01-14 LOADTEST_BOOKING_TO=2027-02-10 \
  LOADTEST_HOT_SLOTS=${HOT:-10} LOADTEST_MOVE_ON=1 LOADTEST_TICKET_OFFICE=bench \
  "$BIN/loadtest" --host "$HOST" --scenarios "${SCEN:-booking}" --users "$USERS" --increase-rate "$USERS" \
  --run-time "${SECS:-15}s" --quiet --no-print-metrics --report-file "$OUT/run.json" >/dev/null
after=$(sample)
curl -fsS "$HOST/metrics" >"$OUT/metrics.txt"
python3 - "$OUT/run.json" "$OUT/metrics.txt" "$(getconf CLK_TCK)" "$before" "$after" <<'EOF'
import json, re, sys
report, metrics, hz = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), int(sys.argv[3])
before, after = ([list(map(int, l.split())) for l in a.splitlines()] for a in sys.argv[4:6])
n = report["raw_request_metrics"][0]["number_of_requests"]
times = report["raw_response_metrics"][-1]
print(f"requests {n}: {report['status_code_metrics'][-1]['status_codes']}; "
      f"p50 {times['percentile_50']} ms, p99 {times['percentile_99']} ms")
for name, b, a in zip(("server", "redis", "postgres"), before, after):
    print(f"{name:<9} {(a[0] - b[0]) * 1e6 / hz / n:6.0f} µs CPU and {(a[1] - b[1]) / n:5.2f} context switches a request")
def metric(pattern):
    found = re.search(pattern, metrics)
    return int(float(found.group(1))) if found else 0
commits = metric(r'madoguchi_group_commit_batch_size_count (\S+)')
rows = metric(r'madoguchi_group_commit_batch_size_sum (\S+)')
single = metric(r'madoguchi_group_commit_batch_size_bucket\{le="1"\} (\S+)')
print(f"group commits {commits}, rows {rows} ({rows / max(commits, 1):.1f} a commit), of a single row {single}")
EOF
