# Two entry points for a fresh Debian machine; each installs what it lacks, then works.
#   make demo   build the sample models and render them into out/ (SVG)
#   make test   run the whole test suite
#   make test-fast   the quick subset for a development loop
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTHON ?= python3
# torch: the local CPU build where the machine has one; a plain 'torch' would pull CUDA.
TORCH ?= torch==2.13.0

.PHONY: demo test test-fast bench clean graphviz chromium

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# core install: enough to read ONNX and render (the demo)
$(VENV)/.core: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	touch $@

# everything the tests exercise: all framework extras and the test tools
$(VENV)/.all: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[all,dev]"
	touch $@ $(VENV)/.core

graphviz:
	@command -v dot >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz; }

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

demo: $(VENV)/.core graphviz
	$(PY) samples/make_samples.py samples
	@mkdir -p out
	@for m in samples/*.onnx samples/*.prototxt; do \
		[ -e "$$m" ] || continue; \
		n=$$(basename "$$m"); \
		$(VENV)/bin/graphscope render "$$m" -o "out/$$n.svg" || exit 1; \
	done
	@ls -l out/

test: $(VENV)/.all graphviz chromium
	$(PY) -m pytest -q

test-fast: $(VENV)/.all graphviz
	$(PY) -m pytest -q -m "not slow and not browser" -x

bench: $(VENV)/.all graphviz
	$(PY) benchmarks/bench_onnx.py

clean:
	rm -rf out .pytest_cache
