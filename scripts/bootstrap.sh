#!/usr/bin/env bash
# Makes a clean clone runnable: npm dependencies (only when package-lock.json changed since
# the last install) and the Temporal CLI (only when none is found). With --with-browser (the
# test command) also a Chromium for the report's browser test. Safe to run every time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

stamp=node_modules/.segflow-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "segflow: installing npm dependencies (locked versions from package-lock.json)" >&2
  # not `npm ci`: npm 11 leaves other platforms' optional native packages (DuckDB, swc) out of
  # the lockfile and `npm ci` then refuses it; `install --no-save` installs the locked versions
  # and never rewrites the lockfile.
  npm install --no-save --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi

bash scripts/ensure-temporal.sh >/dev/null
if [ "${1:-}" = "--with-browser" ]; then
  bash scripts/ensure-chromium.sh >/dev/null
fi
