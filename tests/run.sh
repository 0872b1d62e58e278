#!/usr/bin/env bash
# The README's test command: the Rust tests (API, domain, both backends), then the
# browser end-to-end tests of the pages (Chromium + axe-core; installs what they need).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test
bash tests/browser/run.sh
