# The two set-up commands of the README: `make serve` and `make test`.
# pyproject.toml declares the dependencies (extras per capability), uv.lock pins them; see
# docs/models.md ("Installing") for pip, wheel and image installs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install serve test lint lock clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs are stamped so repeated runs are instant; a change to the lock or pyproject reinstalls.
$(VENV)/.installed: $(BIN)/python uv.lock pyproject.toml scripts/install.sh
	bash scripts/install.sh $(BIN)
	touch $@

install: $(VENV)/.installed

serve: install
	$(BIN)/gateway serve

# The lock must match pyproject.toml (offline check: no resolution against the registry).
test: install
	$(BIN)/uv lock --check --offline --quiet
	bash scripts/test.sh $(BIN)

lint: install
	$(BIN)/ruff check contracts gateway modalities models tests scripts benchmarks
	$(BIN)/mypy contracts gateway modalities models tests scripts benchmarks

# After editing dependencies in pyproject.toml: re-pin (keeps other pins; --upgrade to refresh).
lock: install
	$(BIN)/uv lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
