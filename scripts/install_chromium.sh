#!/usr/bin/env bash
# Make sure headless Chromium is there for scripts/check_site.py browser (make book).
# Installs the Debian package when it is missing and we may (root + apt-get);
# otherwise says what to install. Chromium is not a Python package, so the venv
# cannot carry it.
set -euo pipefail
for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then
    echo "chromium: $(command -v "$name")"
    exit 0
  fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not found; installing the Debian package (apt-get install chromium)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  command -v chromium
  exit 0
fi
echo "chromium: not found and cannot install it here (needs root and apt-get)." >&2
echo "Install Chromium (Debian/Ubuntu: sudo apt-get install chromium), then re-run make book." >&2
exit 1
