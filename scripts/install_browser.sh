#!/usr/bin/env bash
# Debian's Chromium for the browser end-to-end test (tests/e2e/test_web_browser.py drives it with Playwright).
# Playwright's own browser download is never used: it needs the internet beyond the package mirrors.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "Please install: chromium (e.g. sudo apt-get install chromium)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "Installing chromium ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
