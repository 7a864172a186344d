# The tutorial's two commands:
#   make tutorial   set up, then run every notebook in order with papermill (-> outputs/)
#   make test       set up, then pytest --nbval over the unit tests and the notebooks
# Set-up is automatic: a virtual environment in .venv (reused once made), the exact
# versions of requirements.lock and the package, and MNIST in data/ (downloaded with
# torchvision if missing). Every target calls the one entry point, python -m mnist_lib.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: tutorial test setup data bench lab site lint check-claims lock notebooks clean-outputs

tutorial: data
	$(PY) -m mnist_lib tutorial

test: data
	$(VENV)/bin/pytest --nbval

setup: $(STAMP)

# Re-install only when the locked versions or the project change.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements.lock
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

data: setup
	$(PY) -m mnist_lib data

bench: data
	$(PY) -m mnist_lib bench

site: setup
	$(PY) -m mnist_lib site

lint: setup
	$(VENV)/bin/ruff check mnist_lib tests benchmarks notebooks
	$(VENV)/bin/ruff format --check mnist_lib tests benchmarks notebooks

# The claims of notebooks 03 and 04 at two other seeds and with PyTorch's unvectorized CPU
# kernels: they must hold for any seed and any machine, not only for the committed run.
check-claims: data
	$(PY) -m mnist_lib tutorial --only 03 04 -p SEED 1 --out outputs/claims/seed-1
	$(PY) -m mnist_lib tutorial --only 03 04 -p SEED 2 --out outputs/claims/seed-2
	ATEN_CPU_CAPABILITY=default $(PY) -m mnist_lib tutorial --only 03 04 --out outputs/claims/default-kernels

# Jupyter refuses to start as root unless told; root is the usual user in a container.
lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# For maintainers: the lock file from pyproject's ranges (torch capped at the tested release).
lock: setup
	$(PY) -m pip install uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.10 \
		-c constraints.txt -o requirements.lock --custom-compile-command "make lock"

clean-outputs:
	rm -rf outputs runs

# For maintainers: re-execute the notebooks at their defaults and write them back with
# normalized metadata (the committed outputs).
notebooks: data
	$(PY) -m mnist_lib tutorial --refresh
