#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest. Exit code 5 (no tests collected) is a failure.
set -uo pipefail
BIN="$1"
cd "$(dirname "$0")/.."
"$BIN/ruff" check contracts gateway modalities models tests scripts benchmarks || exit 1
"$BIN/mypy" contracts gateway modalities models tests scripts benchmarks || exit 1
"$BIN/python" -m pytest -q -rs --cov --cov-report= "${@:2}"
code=$?
if [ "$code" -eq 5 ]; then echo "no tests were collected: failing"; exit 1; fi
# Branch coverage ([tool.coverage] in pyproject.toml), at least 90%: the session machine, and the
# protocol objects, telephony and speech taken together.
"$BIN/python" -m coverage report --include='gateway/protocol/*,gateway/telephony.py,modalities/speech/*' \
  --fail-under=90 || exit 1
"$BIN/python" -m coverage report --include='gateway/session/machine.py' --fail-under=90 || exit 1
exit "$code"
