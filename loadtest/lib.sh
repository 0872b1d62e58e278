# Shared by smoke.sh and run.sh: start a Madoguchi instance on a fresh PostgreSQL database
# and a fresh Redis prefix, wait until it is ready, mint staff tokens, stop it.
# Expects BIN (folder of the madoguchi and loadtest binaries) and OUT (results folder).

PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
LT_DB=${LT_DB:-madoguchi_loadtest}
LT_PORT=${LT_PORT:-18080}
HOST="http://127.0.0.1:$LT_PORT"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$LT_DB"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
SERVER_PID=
REDIS_PREFIX=
export RUST_BACKTRACE=0

# fresh_database — an empty database, or with DB_TEMPLATE set a copy of that database.
fresh_database() {
  psql "$PG_ADMIN" -qAt -c "DROP DATABASE IF EXISTS $LT_DB WITH (FORCE)" \
    -c "CREATE DATABASE $LT_DB${DB_TEMPLATE:+ TEMPLATE $DB_TEMPLATE}" >/dev/null
}

# start_server CONFIG CLOCK [extra VAR=value…] — production (PostgreSQL + Redis), or
# with MODE=embedded the zero-install mode (a fresh SQLite file, in-process hot state).
start_server() {
  local config=$1 clock=$2
  shift 2
  local backends=()
  if [ "${MODE:-production}" = embedded ]; then
    rm -f "$OUT"/embedded.db*
    backends=(-u DATABASE_URL -u REDIS_URL MADOGUCHI_SQLITE_PATH="$OUT/embedded.db")
  else
    fresh_database
  fi
  REDIS_PREFIX="lt$$x$RANDOM"
  # Requests without X-Forwarded-For come from 127.0.0.1 itself: the staff users (the
  # counters' network) and the browser tests. It is exempt from the write limit, as a
  # town hall exempts its counters and kiosks; residents carry their own addresses.
  env "${backends[@]}" MADOGUCHI_CONFIG="$config" MADOGUCHI_CLOCK="$clock" MADOGUCHI_BIND="127.0.0.1:$LT_PORT" \
    MADOGUCHI_REDIS_PREFIX="$REDIS_PREFIX" MADOGUCHI_TRUSTED_PROXIES='["127.0.0.1"]' \
    MADOGUCHI_RATE_LIMIT__EXEMPT='["127.0.0.1"]' \
    RUST_LOG=${RUST_LOG:-warn} ${SERVER_ENV:-} "$@" "$BIN/madoguchi" >"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if curl -fsS "$HOST/health/ready" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "server exited:"; tail -20 "$OUT/server.log"; return 1
    fi
    sleep 0.1
  done
  echo "server not ready"; tail -20 "$OUT/server.log"; return 1
}

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
  forget_redis_prefix
}

# Removes the stopped instance's hot state: a benchmark leaves ~100,000 keys a run (the
# idempotency keys live a day), and a Redis grown to gigabytes slows the next runs.
forget_redis_prefix() {
  if [ -n "$REDIS_PREFIX" ] && [ "${MODE:-production}" != embedded ]; then
    redis-cli -u "$REDIS_URL" --scan --pattern "$REDIS_PREFIX:*" \
      | xargs -r -n 2000 redis-cli -u "$REDIS_URL" unlink >/dev/null || true
  fi
  REDIS_PREFIX=
}

# tokens CONFIG OFFICE… → "office=token,…" for LOADTEST_TOKENS
tokens() {
  local config=$1 pairs=""
  shift
  for office in "$@"; do
    local t
    t=$(MADOGUCHI_CONFIG="$config" RUST_LOG=error "$BIN/madoguchi" staff-token create --office "$office" --role staff --label loadtest 2>/dev/null)
    pairs="$pairs${pairs:+,}$office=$t"
  done
  echo "$pairs"
}

# CPU time (clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU time of every PostgreSQL process (the server's pooled backends live through a run).
pg_ticks() { local t=0 p; for p in $(pgrep -x postgres); do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
