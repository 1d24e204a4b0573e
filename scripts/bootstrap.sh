#!/usr/bin/env bash
# Makes a clean clone runnable: npm dependencies (only when package-lock.json changed since
# the last install) and the Temporal CLI (only when none is found). With --for-tests (the test
# command) also a Chromium for the report's browser test and the benchmark's Python for the
# cross-check tests (scikit-learn, xgboost, shap), installed here rather than inside the first
# test that needs it, whose timeout a slow install under load overran. Safe to run every time.
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
if [ "${1:-}" = "--for-tests" ]; then
  bash scripts/ensure-chromium.sh >/dev/null
  bash scripts/ensure-bench-python.sh >/dev/null
fi
