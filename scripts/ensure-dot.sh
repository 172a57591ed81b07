#!/usr/bin/env bash
# Make sure the graphviz `dot` binary is on PATH, installing it with the system package
# manager when we can (CI runs as root); otherwise say exactly how to get it.
set -euo pipefail
if command -v dot >/dev/null 2>&1; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; fi
fi
if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
    echo "ensure-dot: installing graphviz (the 'dot' binary) with the system package manager"
    if command -v apt-get >/dev/null 2>&1; then
        $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq graphviz >/dev/null
    elif command -v dnf >/dev/null 2>&1; then
        $sudo dnf install -y graphviz >/dev/null
    elif command -v apk >/dev/null 2>&1; then
        $sudo apk add --no-cache graphviz >/dev/null
    elif command -v brew >/dev/null 2>&1; then
        brew install graphviz >/dev/null
    fi
fi
if ! command -v dot >/dev/null 2>&1; then
    echo "ensure-dot: graphviz's 'dot' binary is missing and could not be installed here." >&2
    echo "  Debian/Ubuntu: sudo apt-get install graphviz   macOS: brew install graphviz" >&2
    echo "  Fedora: sudo dnf install graphviz              Windows: winget install graphviz" >&2
    exit 1
fi
