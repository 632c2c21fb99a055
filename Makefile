# Two commands for a newcomer: `make demo` (the main job) and `make test`.
# Both create .venv when it is missing and reuse it otherwise.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup demo test test-fast lint

setup:
	@bash tools/setup_env.sh
	@bash tools/setup_browser.sh

lint: setup
	$(VENV)/bin/ruff check .

demo: setup
	$(PY) tools/demo.py

test: lint
	$(PY) -m pytest tests -q -ra --durations=15

test-fast: lint
	$(PY) -m pytest tests -q -ra -m 'not slow'
