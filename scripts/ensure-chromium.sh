#!/usr/bin/env bash
# Prints the path of a Chromium for the report's browser test, installing Debian's package
# when none is found and this user can (root with apt-get). Order: $SEGFLOW_CHROMIUM, then
# chromium / chromium-browser on PATH. Playwright's own browser download is not used: it needs
# hosts this project's machines cannot reach.
set -euo pipefail
say() { echo "segflow: $*" >&2; }

if [ -n "${SEGFLOW_CHROMIUM:-}" ]; then echo "$SEGFLOW_CHROMIUM"; exit 0; fi
for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing Debian's chromium for the report's browser test (apt-get, about a minute)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  command -v chromium
  exit 0
fi
say "no Chromium found: install Debian's 'chromium' package or set SEGFLOW_CHROMIUM=/path/to/chromium"
exit 1
