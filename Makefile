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

.PHONY: release test install clean katex test-tools
KATEX_VERSION := 0.16.22

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed (nbgrader 0.9.6)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py course_lib/_im2col.pyx
	$(BIN)/python -m pip install --quiet -e '.[instructor,test]'
	touch $@

install: $(VENV)/.installed katex

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

release: install
	$(BIN)/course build

test: install test-tools
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build dist *.egg-info course_lib/*.so course_lib/_im2col.c
