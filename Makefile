# Two commands: `make release` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# nbgrader calls alembic, which lives in the venv's bin/.
export PATH := $(abspath $(BIN)):$(PATH)
# Two cores shared by numpy, torch and the grader's workers: multi-threaded BLAS on
# small matrices is up to 50x slower here than one thread.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: release test install clean katex test-tools sandbox-tool
KATEX_VERSION := 0.16.22

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed (nbgrader 0.9.6)"'
	@echo "[install 1/3] creating $(VENV) and updating pip"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip's own output goes to a log: one line per package it collects, shown as it goes.
$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py $(wildcard course_lib/*.pyx)
	@echo "[install 2/3] installing the project and its dependencies (numpy, nbgrader, torch CPU, ...) into $(VENV);"
	@echo "              a few minutes the first time; full log in $(VENV)/install.log"
	@$(BIN)/python -m pip install --progress-bar off -e '.[instructor,test]' > $(VENV)/install.log 2>&1 & pid=$$!; \
	  while kill -0 $$pid 2>/dev/null; do \
	    sleep 10; echo "              ... $$(grep -cE '^(Collecting|Processing)' $(VENV)/install.log) packages found so far;" \
	      "now: $$(grep -E '^ *[A-Z][a-z]+ing ' $(VENV)/install.log | tail -n 1 | cut -c1-60)"; \
	  done; \
	  wait $$pid || { tail -n 30 $(VENV)/install.log; echo "pip install failed: see $(VENV)/install.log"; exit 1; }
	@echo "[install 3/3] done: activate with . $(VENV)/bin/activate (or call $(BIN)/course)"
	touch $@

install: $(VENV)/.installed katex sandbox-tool

# KaTeX typesets the math of `course written` pages; the npm package goes into the venv.
$(VENV)/katex/.installed: | $(BIN)/python
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix $(VENV)/katex --no-audit --no-fund --no-save --silent katex@$(KATEX_VERSION) && touch $@; \
	else echo "npm not found: course written needs KaTeX; install npm, then run make katex"; fi

katex: $(VENV)/katex/.installed

# Headless Chromium (Debian's package) for the tests that open generated pages; installed when root.
test-tools: katex
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium could not be installed: the browser tests will skip"

# Graders run student code in namespaces made by bubblewrap (Debian's package), installed here
# when missing and root; without it workers fall back to a user switch and limits only.
sandbox-tool:
	@command -v bwrap >/dev/null || [ "$$(id -u)" != 0 ] || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null 2>&1 || \
		echo "bubblewrap could not be installed: student code will be graded without namespaces"

release: install
	$(BIN)/course build

test: install test-tools
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build dist *.egg-info course_lib/*.so course_lib/_im2col.c
