#!/usr/bin/env bash
# The README's test command: the Rust tests (API, domain, both backends), then the
# browser end-to-end tests of the pages (Chromium + axe-core; installs what they need,
# and the SMTP server of the mail tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# The mail tests run a real SMTP server (PyPI's aiosmtpd), one per test.
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
    echo "installing aiosmtpd"
    python3 -m pip install -q "aiosmtpd>=1.4,<2" 2>&1 | grep -v "running pip as the 'root' user" || true
fi
cargo test
bash tests/browser/run.sh
