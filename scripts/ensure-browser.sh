#!/usr/bin/env bash
# Make sure the system Chromium is installed for the browser tests (tests/browser.py drives it
# through Playwright's Python API; Playwright's own browser download is never used). Installs
# Debian's `chromium` with apt when we can (CI runs as root); otherwise says exactly how.
set -euo pipefail
have_chromium() { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; }
if have_chromium; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; fi
fi
if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "ensure-browser: installing Debian's chromium with apt-get"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    fi
fi
if ! have_chromium; then
    echo "ensure-browser: Chromium is missing and could not be installed here." >&2
    echo "  Debian/Ubuntu: sudo apt-get install chromium" >&2
    echo "  Without it the browser tests skip (and fail under CI=true)." >&2
    if [ "${CI:-}" = "true" ]; then exit 1; fi
fi
