# One target per habit. Every target sets up .venv first if it is missing or stale.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE := data/sample
OUT ?= out/demo

.PHONY: setup test lint demo bench sample constraints clean golden

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/unmetneed run $(SAMPLE)/quarterly.toml --out-dir $(OUT)
	$(BIN)/unmetneed audit $(OUT)/publish/*.parquet
	$(BIN)/unmetneed validate $(OUT)/restricted/extract.parquet --kind treatment
	@echo "Published (tables and manifest.json): $(OUT)/publish/"
	@echo "Restricted (the extract, the run log, the release register): $(OUT)/restricted/"

# Rewrite tests/golden/ from what the README's examples and `make demo` give now: only when
# an output is meant to change (review `git diff tests/golden/` before committing).
golden: $(STAMP)
	UNMETNEED_GOLDEN=update $(BIN)/python -m pytest -q tests/test_golden.py

bench: $(STAMP)
	$(BIN)/python -m pip install -q -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/run.py

sample: $(STAMP)
	$(BIN)/python $(SAMPLE)/make_sample.py

constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
