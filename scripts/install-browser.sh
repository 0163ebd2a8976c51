#!/usr/bin/env bash
# Installs Debian's Chromium for the web page's end-to-end tests (tests/api/test_web.py drives
# /usr/bin/chromium with Playwright; without it those tests skip). Skips it when present.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
