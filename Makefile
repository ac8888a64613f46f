# Set-up and the everyday jobs. Every target creates the virtual environment first if needed, so on a
# fresh machine `make run` and `make test` are the only commands to type.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: setup  ## the main job: for now a scripted expert performs a random task and writes an mp4
	$(BIN)/bcz demo $(ARGS)

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup  ## the README's benchmark tables (a few minutes)
	$(BIN)/python benchmarks/expert_success.py --episodes 100
	$(BIN)/python benchmarks/sim_speed.py

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
