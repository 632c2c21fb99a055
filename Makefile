# Two commands for a newcomer: `make demo` (the main job) and `make test`.
# Both create .venv when it is missing and reuse it otherwise.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup demo test test-fast lint mutation

setup:
	@bash tools/setup_env.sh
	@bash tools/setup_browser.sh

lint: setup
	$(VENV)/bin/ruff check .

# `make demo DEMO_ARGS=--strict`: a missed target is the exit status (CI)
DEMO_ARGS ?=
demo: setup
	$(PY) tools/demo.py $(DEMO_ARGS)

test: lint
	$(PY) -m pytest tests -q -ra --durations=15

test-fast: lint
	$(PY) -m pytest tests -q -ra -m 'not slow'

# Mutation testing (not part of `make test`; docs/testing.md): mutmut mutates
# the modules listed in pyproject.toml's [tool.mutmut], runs for each mutant
# only the tests that call the mutated function, and the report prints the
# score per module (fails under 80 %). A fresh run each time (~20 min on 2
# cores with one worker); `mutmut results` / `mutmut show NAME` afterwards.
MUTATION_JOBS ?= 1
mutation: setup
	$(PY) -m pip install -q -r requirements/mutation.txt
	rm -rf mutants
	OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false \
		$(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS)
	$(PY) tools/misc/mutation_report.py --min-score 0.8
