# The tutorial's two commands:
#   make tutorial   set up, then run every notebook in order with papermill (-> outputs/)
#   make test       set up, then pytest --nbval over the unit tests and the notebooks
# Set-up is automatic: a virtual environment in .venv (reused once made), the package and
# its dependencies, and MNIST in data/ (downloaded with torchvision if missing).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: tutorial test setup data bench lab notebooks clean-outputs

tutorial: data
	$(PY) -m mnist_lib.tutorial

test: data
	$(VENV)/bin/pytest --nbval

setup: $(STAMP)

# Re-install only when the dependency list changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

data: setup
	$(PY) -m mnist_lib data

bench: data
	$(PY) benchmarks/speed.py

# Jupyter refuses to start as root unless told; root is the usual user in a container.
lab: setup
	$(PY) -m pip install -e ".[test,lab]"
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

clean-outputs:
	rm -rf outputs runs

# For maintainers: re-execute the notebooks at their defaults and write them back with
# normalized metadata (the committed outputs; notebook 05 reuses an identical saved study).
notebooks: data
	$(PY) -m mnist_lib.tutorial --refresh
