#!/usr/bin/env bash
# Prints the path of the Python that judges segflow from outside (the benchmark's peer and the
# cross-library tests: scikit-learn, xgboost, shap). Creates .segflow/bench-venv and installs
# bench/requirements.txt into it, again only when that file changed. segflow itself never runs Python.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.segflow/bench-venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$root/bench/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "segflow: installing the benchmark's Python environment into .segflow/bench-venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/bench/requirements.txt" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
