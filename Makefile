# Two commands for a fresh clone: `make demo` (set up, run the app) and `make test` (set up,
# lint, build the docs, run every test). Each installs only what is missing.
#
# Python: the active one (a virtual environment, conda, pyenv...), unless it is a system
# Python that refuses pip installs (PEP 668): then a virtual environment in .venv.
SYSTEM_PYTHON ?= python3
TORCH_VERSION := 2.13.0
# PyTorch's CPU-only wheels (PyPI's Linux torch is a CUDA build of several GB).
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
CHROMIUM ?= $(or $(CNNVIZ_CHROMIUM),/usr/bin/chromium)
DEMO_ARGS ?=
WEB_ARGS ?=

MANAGED := $(shell $(SYSTEM_PYTHON) -c "import pathlib, sys, sysconfig; \
	print(int(sys.prefix == sys.base_prefix and \
	pathlib.Path(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED').is_file()))")
ifeq ($(MANAGED),1)
PYTHON := .venv/bin/python
MAKE_VENV := .venv/bin/python
else
PYTHON := $(SYSTEM_PYTHON)
MAKE_VENV :=
endif
# Where the environment's commands (cnnviz) live; expanded when a recipe runs.
SCRIPTS = $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_path('scripts'))")
STAMPS := build/make
DOCS_SOURCES := $(shell find docs examples cnnviz -type f \( -name '*.py' -o -name '*.rst' \
	-o -name '*.css' -o -name '*.js' -o -name '*.html' -o -name '*.png' -o -name '*.txt' \) \
	-not -path 'docs/_build/*' -not -path 'docs/auto_examples/*' \
	-not -path 'docs/gen_modules/*' -not -path 'docs/generated/*' \
	-not -path 'docs/_generated/*' -not -name sg_execution_times.rst 2>/dev/null)

.PHONY: demo test test-space lint docs docs-fp32 screenshots space browser web
.PRECIOUS: $(STAMPS)/%

demo: $(STAMPS)/app  ## set up what is missing, then run the app on http://127.0.0.1:7860
	$(SCRIPTS)/cnnviz demo $(DEMO_ARGS)

test: $(STAMPS)/all lint browser docs  ## set up what is missing, lint, build the docs, test
	$(PYTHON) -m pytest -m "not space"
	$(MAKE) --no-print-directory test-space

test-space: $(STAMPS)/all  ## the staged Space and the built wheel, each in a fresh venv, drawn on
	$(PYTHON) -m pytest -m space

lint: $(STAMPS)/all
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

docs: docs/_build/html/.built  ## every example executed, warnings are errors

# The docs as a CPU without native bf16 builds them (`make test` already runs the examples
# whose training depends on the precision that way, in tests/test_docs_claims.py).
docs-fp32: $(STAMPS)/all  ## every example executed in fp32 (CNNVIZ_PRECISION=fp32)
	rm -rf docs/_build/html-fp32 docs/auto_examples docs/generated
	CNNVIZ_PRECISION=fp32 $(PYTHON) -m sphinx -W --keep-going -n -b html docs docs/_build/html-fp32
	rm -f docs/_build/html/.built

screenshots: $(STAMPS)/all  ## the app's screenshots in docs/_static, from the running app
	$(PYTHON) scripts/app_screenshots.py

space:  ## stage exactly the files the Space receives into build/space
	rm -rf build/space
	$(PYTHON) scripts/stage_space.py build/space

web: $(STAMPS)/all  ## the browser edition in build/web, staged as a static Space in build/web-space
	rm -rf build/web build/web-space
	$(PYTHON) -m cnnviz.cli export-web build/web $(WEB_ARGS)
	$(PYTHON) scripts/stage_web_space.py build/web build/web-space

.venv/bin/python:
	$(SYSTEM_PYTHON) -m venv .venv

# torch first, from the CPU index, unless torch $(TORCH_VERSION) is already there (a CUDA
# build installed by hand stays); then the package, with torch pinned so pip never
# resolves another one.
$(STAMPS)/%: pyproject.toml | $(MAKE_VENV)
	$(PYTHON) -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$(TORCH_VERSION)')" \
		2>/dev/null || $(PYTHON) -m pip install --extra-index-url $(TORCH_INDEX) torch==$(TORCH_VERSION)
	$(PYTHON) -m pip install -e ".[$*]" torch==$(TORCH_VERSION)
	@mkdir -p $(STAMPS) && touch $@

# The browser tests drive Debian's chromium; installed with apt when root or sudo allows.
browser:
	@CHROMIUM="$(CHROMIUM)" sh scripts/ensure_chromium.sh

# From scratch: sphinx-gallery would reuse the output of an unchanged example even when
# the library under it changed. The app's screenshots are taken again first when the
# app's layout changed since they were made (scripts/app_screenshots.py --check).
docs/_build/html/.built: $(DOCS_SOURCES) $(STAMPS)/all
	$(PYTHON) scripts/app_screenshots.py --check || $(PYTHON) scripts/app_screenshots.py
	rm -rf docs/_build docs/auto_examples docs/generated && $(PYTHON) -m sphinx -W --keep-going -n -b html docs docs/_build/html
	touch $@
