# The two set-up commands of the README: `make serve` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
REQS := $(wildcard requirements/*.txt)

.PHONY: install serve test lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs are stamped so repeated runs are instant; any change to requirements/ reinstalls.
$(VENV)/.installed: $(BIN)/python $(REQS) pyproject.toml scripts/install.sh
	bash scripts/install.sh $(BIN)
	touch $@

install: $(VENV)/.installed

serve: install
	$(BIN)/gateway serve

test: install
	bash scripts/test.sh $(BIN)

lint: install
	$(BIN)/ruff check contracts gateway modalities models tests
	$(BIN)/mypy contracts gateway modalities models

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
