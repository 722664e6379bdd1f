# Set-up and everyday commands. `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   ?= .venv
# CPU build pinned for CI; on a GPU machine: make TORCH="torch==2.13.0 --index-url <your CUDA wheel index>"
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/pyproject.toml)
EDITABLES := -e '.[test]' $(foreach p,$(PLUGINS),-e $(dir $(p))) -e examples/hello-plugin

.PHONY: setup demo test lint bench schemas docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(PLUGINS) examples/hello-plugin/pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=68"
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet $(EDITABLES)
	touch $@

demo: setup
	$(BIN)/framework run classifier.sweep_thresholds --epochs 20 --learning-rate 0.01 --artifact-root runs

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check core plugins examples tests bench
	$(BIN)/ruff format --check core plugins examples tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/run_all.py

schemas: setup
	$(BIN)/framework schema --out schemas

docs: setup
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) runs site
