# One entry point for people and CI. `make test` works on a fresh machine with nothing run first:
# it creates .venv, installs the project and its pinned dependencies, makes sure Fashion-MNIST is
# there, and runs pytest.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup data test test-cluster lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (osgan)" >/dev/null
	touch $@

# Debian's dataset-fashion-mnist is the offline source of the default data set.
data:
	@bash scripts/ensure-fashion-mnist.sh

# two workers on this project's 2-core machines (pytest-xdist); the chapters run in the book build
test: setup data
	$(BIN)/python -m pytest -n 2 -m "not book"

# The Slurm executor on a one-node cluster started here (Debian's slurm and munge, installed when
# missing): the smoke sweep with one job preempted must resume and equal the local record.
test-cluster: setup data
	eval "$$(bash scripts/cluster.sh start)" && trap 'bash scripts/cluster.sh stop' EXIT && \
		$(BIN)/python scripts/cluster_check.py

lint: setup
	$(BIN)/ruff check osgan tests notebooks scripts

clean:
	rm -rf _build .pytest_cache

# The book. `make book` executes every chapter with papermill into _build/book (a chapter whose
# notebook, osgan/ sources and parameters are unchanged is not re-run), installs MathJax with npm
# on first use (no CDN), and renders _build/book/_build/html with jupyter-book, warnings as errors.
# PROFILE=auto is full on CUDA, quick on CPU; smoke is what CI builds. `make book-check` opens
# every page in headless Chromium and saves screenshots under _build/screenshots.
PROFILE ?= auto
DEVICE  ?= auto

.PHONY: book book-check

book: setup data
	$(BIN)/python scripts/build_book.py --profile $(PROFILE) --device $(DEVICE)

book-check: setup
	$(BIN)/python scripts/check_book.py
