#!/usr/bin/env bash
# The browser end-to-end tests: Debian's Chromium driven by playwright-core, axe-core on
# every page. Starts Madoguchi on PostgreSQL + Redis (a fresh database), with a simulated
# clock on a Tuesday morning and a made-up congestion history, then runs tests/browser.
# Installs Chromium and the two npm packages when they are missing.
# Screenshots: target/browser/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/debug}
OUT=${OUT:-target/browser}
mkdir -p "$OUT/screenshots"

if ! command -v chromium >/dev/null; then
  echo "installing Debian's Chromium"
  apt-get install -y -q chromium >/dev/null
fi
# Japanese glyphs for the screenshots (the pages are Japanese first).
if ! fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then
  apt-get install -y -q fonts-noto-cjk >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
[ -x "$BIN/madoguchi" ] && [ "${SKIP_BUILD:-}" = 1 ] || cargo build --locked -p madoguchi

export LT_DB=madoguchi_browser LT_PORT=18090
. loadtest/lib.sh
trap stop_server EXIT
# The sample city plus a running waiting room (tests/browser/room.toml).
CONFIG="$OUT/city.toml"
cat app/config/sample-city.toml tests/browser/room.toml >"$CONFIG"
CLOCK=2027-01-12T09:30:00+09:00@1
# Writes from residents' addresses (the limit test) refill slowly, so that a slow
# machine's presses still use up the burst; 127.0.0.1 (every other test) is exempt.
export MADOGUCHI_RATE_LIMIT__PER_MINUTE=2
# A real SMTP server (aiosmtpd, as in the API tests): the booking flow opens the
# management link from the e-mail it received.
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
  python3 -m pip install -q "aiosmtpd>=1.4,<2" 2>&1 | grep -v "running pip as the 'root' user" || true
fi
MAILDIR="$PWD/$OUT/mail"
rm -rf "$MAILDIR"
python3 -m aiosmtpd -n -l 127.0.0.1:18025 -c aiosmtpd.handlers.Mailbox "$MAILDIR" &
SMTP_PID=$!
trap 'stop_server; kill $SMTP_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/18025) 2>/dev/null && break
  sleep 0.1
done
export MADOGUCHI_MAIL__SMTP_URL=smtp://127.0.0.1:18025 MADOGUCHI_MAIL__PUBLIC_URL="http://127.0.0.1:$LT_PORT"
export MADOGUCHI_MAIL__POLL_INTERVAL_MS=200 MAILDIR
start_server "$CONFIG" "$CLOCK"
MADOGUCHI_CONFIG="$CONFIG" MADOGUCHI_CLOCK="$CLOCK" RUST_LOG=error "$BIN/madoguchi" demo-history --weeks 8
STAFF_TOKEN=$(MADOGUCHI_CONFIG="$CONFIG" RUST_LOG=error "$BIN/madoguchi" staff-token create --office main --role staff --label browser 2>/dev/null)
ADMIN_TOKEN=$(MADOGUCHI_CONFIG="$CONFIG" RUST_LOG=error "$BIN/madoguchi" staff-token create --office main --role admin --label browser-admin 2>/dev/null)
export STAFF_TOKEN ADMIN_TOKEN MADOGUCHI_URL="$HOST" SCREENSHOTS="$PWD/$OUT/screenshots"
(cd tests/browser && node --test --test-concurrency=1 --test-reporter=spec ./*.test.js)
