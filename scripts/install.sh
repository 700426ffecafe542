#!/usr/bin/env bash
# Installs the locked runtime (every extra) and dev tools into the virtual environment given as
# $1 (its bin folder). pyproject.toml declares the dependencies, uv.lock pins the whole tree
# (hashes included); `uv sync --frozen` installs exactly that tree and the project (editable),
# never re-resolving. uv itself is bootstrapped with pip at the version the lock names.
set -euo pipefail
BIN="$1"
cd "$(dirname "$0")/.."
UV_VERSION=$(awk '/^name = "uv"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' uv.lock)
"$BIN/pip" install -q "uv==${UV_VERSION:?uv is missing from uv.lock}"
# --inexact: keep pip in the venv; --frozen: install the lock as it is (make test checks it
# matches pyproject.toml with `uv lock --check`).
VIRTUAL_ENV="$(cd "$BIN/.." && pwd)" UV_PROJECT_ENVIRONMENT="$(cd "$BIN/.." && pwd)" \
  "$BIN/uv" sync --frozen --inexact --all-extras --no-progress --quiet
