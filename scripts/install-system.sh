#!/usr/bin/env bash
# Chromium for the pages that need JavaScript: the system package where we can install one,
# else Playwright's own download (needs internet). Called by `make install` with the venv's bin dir.
set -euo pipefail
bin=${1:-.venv/bin}
for c in chromium chromium-browser google-chrome; do
  if command -v "$c" >/dev/null 2>&1; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if $sudo true 2>/dev/null; then
    $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium && exit 0
  fi
fi
echo "no system Chromium could be installed; trying Playwright's browser download" >&2
"$bin/playwright" install chromium
