# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint lock clean load soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements-dev.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python -m backend.devstack.run

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The load and fault suite at full size (4,000 connections, minutes); `make test` runs its short
# profile. Figures and plots land in test-artifacts/load/ (figures.json, report.html).
load: install
	LOAD_PROFILE=full $(BIN)/python -m pytest tests/load -p no:cacheprovider $(PYTEST_ARGS)

# 30 minutes of steady load, RSS per worker sampled; growth must stay under 5 %.
# A smoke of the machinery: make soak SOAK_SECONDS=60
SOAK_SECONDS ?= 1800
soak: install
	LOAD_PROFILE=soak SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest tests/load/test_soak.py -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy backend tests bench

# Regenerate the lock files after changing dependencies in pyproject.toml.
lock: $(BIN)/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml -o requirements.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements-dev.lock

clean:
	rm -rf $(VENV) data/run
