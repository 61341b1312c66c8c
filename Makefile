# Two commands set everything up on a fresh machine:
#   make demo   -- the main job on the embedded digits
#   make test   -- the default test run (CI runs exactly this)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow lint bench gpu-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first: 2.13.0 is the CPU build; a bare requirement could pull a CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,dask,tensorboard]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/wcatsim demo

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

test-slow: $(STAMP)
	$(PY) -m pytest -m slow -q

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) benchmarks/inject.py
	$(PY) benchmarks/coverage.py
	$(PY) benchmarks/montecarlo.py
	$(PY) benchmarks/bfa.py

# The GPU path checked against the CPU (scripts/gpu_check.py, under 8 minutes on one GPU). It installs
# nothing and does not use .venv: it runs from this checkout with the python that has CUDA torch.
GPU_PYTHON ?= python3
gpu-check:
	PYTHONPATH=. $(GPU_PYTHON) scripts/gpu_check.py

clean:
	rm -rf $(VENV) build dist *.egg-info
