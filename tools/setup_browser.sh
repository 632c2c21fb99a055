#!/usr/bin/env bash
# Debian's chromium + chromium-driver for the web demo's browser tests
# (tests/test_tools/test_webui.py). Installs them with apt when missing and
# running as root; otherwise says what to install.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing chromium + chromium-driver (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        chromium chromium-driver >/dev/null
    command -v chromium >/dev/null && command -v chromedriver >/dev/null
else
    echo "[setup] WARNING: chromium and chromedriver are missing; the browser" \
         "tests need them: sudo apt-get install chromium chromium-driver" >&2
fi
