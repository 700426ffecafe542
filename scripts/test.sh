#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest. Exit code 5 (no tests collected) is a failure.
set -uo pipefail
BIN="$1"
cd "$(dirname "$0")/.."
"$BIN/ruff" check contracts gateway modalities models tests || exit 1
"$BIN/mypy" contracts gateway modalities models || exit 1
"$BIN/python" -m pytest -q -rs "${@:2}"
code=$?
if [ "$code" -eq 5 ]; then echo "no tests were collected: failing"; exit 1; fi
exit "$code"
