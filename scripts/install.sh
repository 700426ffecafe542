#!/usr/bin/env bash
# Installs the pinned runtime and dev requirements into the virtual environment given as $1/..
set -euo pipefail
BIN="$1"
cd "$(dirname "$0")/.."
# Packages that would drag in a second OpenCV build are installed without their dependencies;
# requirements/*.txt list what they really need, with one deliberate OpenCV (headless).
args=()
for f in requirements/*.txt; do
  case "$f" in requirements/nodeps.txt) ;; *) args+=(-r "$f") ;; esac
done
"$BIN/pip" install -q "${args[@]}"
if [ -f requirements/nodeps.txt ]; then
  "$BIN/pip" install -q --no-deps -r requirements/nodeps.txt
fi
"$BIN/pip" install -q --no-deps -e .
