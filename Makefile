# Set-up and the everyday jobs. Every target creates the virtual environment first if needed, so on a
# fresh machine `make run` and `make test` are the only commands to type.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch by default (a bare `torch` requirement could pull a multi-GB CUDA build).
# On a GPU machine: make setup TORCH="torch --index-url https://download.pytorch.org/whl/cu128"
TORCH  ?= torch==2.13.0

.PHONY: run test lint bench setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: setup  ## the main job: the simulated robot on the shipped default policy; type instructions
	$(BIN)/bcz run web=true $(ARGS)

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup  ## the README's benchmark tables (about 90 minutes; policy_speed, distributed_training and pack_trip need datasets/tabletop)
	$(BIN)/python benchmarks/expert_success.py --episodes 100
	$(BIN)/python benchmarks/expert_success.py --episodes 50 --dart 0.003
	$(BIN)/python benchmarks/expert_chains.py --chains 100
	$(BIN)/python benchmarks/sim_speed.py
	$(BIN)/python benchmarks/collection.py --episodes 40
	$(BIN)/python benchmarks/dataset_io.py --episodes 30
	$(BIN)/python benchmarks/policy_speed.py
	$(BIN)/python benchmarks/distributed_training.py
	$(BIN)/python benchmarks/pack_trip.py --dataset datasets/tabletop --steps 60
	$(BIN)/python benchmarks/control_loop.py --minutes 5 --rates 10 30
	$(BIN)/python benchmarks/soak.py --minutes 30
	$(BIN)/python benchmarks/language_roles.py
	$(BIN)/python benchmarks/reader_retrieval.py policy/pretrained/default
	$(BIN)/python benchmarks/code_shape.py

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
