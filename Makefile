# rarelab: `make demo` and `make test` work on a fresh machine with Python 3.11 and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: demo test lab bench lint clean browser binder-check docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[dev]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[dev,docs]"
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[lab,umap]"
	touch $@ $(VENV)/.installed

# Rendered signs: frozen features already give the paper's effect (the linear learner),
# in seconds per round. Real signs need --learner partial (rarelab compare's default): minutes
# per round (about 5 on GTSRB's training set), 9 runs x 6 rounds would be far past 5 minutes.
demo: $(VENV)/.installed
	$(BIN)/rarelab compare --dataset synth_signs --rare-classes rarest:8 --learner linear \
		--strategies rare-softmax,entropy,random --rounds 5 --per-class 50 --seeds 3 --out runs/demo

# The widget tests drive Debian's Chromium; install it where we may (root with apt).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and not root: browser tests will be skipped"; fi; }

test: $(VENV)/.installed-dev browser
	$(BIN)/python -m pytest

lab: $(VENV)/.installed-lab
	$(BIN)/jupyter lab notebooks/

bench: $(VENV)/.installed-dev browser
	$(BIN)/python -m benchmarks

# A fresh environment built only from binder/'s files must run every notebook.
binder-check:
	rm -rf .venv-binder && $(PYTHON) -m venv .venv-binder
	@# --retries 0: where the CPU wheel index is unreachable (this sandbox) pip falls back to PyPI at once
	.venv-binder/bin/python -m pip install --quiet --retries 0 -r binder/requirements.txt
	PATH=$(CURDIR)/.venv-binder/bin:$$PATH bash binder/postBuild
	.venv-binder/bin/python -m pip install --quiet pytest   # the harness only; the notebooks use binder's packages
	.venv-binder/bin/python -m pytest -p no:cacheprovider -o addopts="" tests/test_notebooks.py

# The documentation site: tutorials executed with their outputs, API and CLI reference,
# the strategy comparison; then a browser test of the built site. Offline.
docs: $(VENV)/.installed-docs browser
	$(BIN)/python docs/build_tutorials.py
	$(BIN)/sphinx-build -b html -q -W --keep-going docs docs/_build/html
	RARELAB_DOCS_SITE=$(CURDIR)/docs/_build/html $(BIN)/python -m pytest -p no:cacheprovider -o addopts="" -q tests/test_docs_site.py
	@echo "site: docs/_build/html/index.html"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check rarelab tests docs benchmarks
	$(BIN)/ruff format --check rarelab tests docs benchmarks

clean:
	rm -rf runs .pytest_cache .venv-binder docs/_build docs/tutorials docs/generated docs/cli.md
