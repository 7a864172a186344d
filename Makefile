# The tutorial's two commands:
#   make tutorial   set up, then run every notebook in order with papermill (-> outputs/)
#   make test       set up, then pytest --nbval over the unit tests and the notebooks
# Set-up is automatic: a virtual environment in .venv (reused once made), the exact
# versions of requirements.lock and the package, and MNIST in data/ (downloaded with
# torchvision if missing). Every target calls the one entry point, python -m mnist_lib,
# except bench and site, scripts beside the package (benchmarks/bench.py, site/build.py).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: tutorial test setup data bench gpu-check lab site lint check-claims lock notebooks clean-outputs

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
	$(PY) benchmarks/bench.py

# On a machine with CUDA: the test suite, notebook 03 and the benchmark on the GPU, with
# their figures in outputs/gpu-check/gpu_check.json (benchmarks/gpu_check.py says what).
gpu-check: data
	$(PY) benchmarks/gpu_check.py

site: setup
	$(PY) site/build.py

lint: setup
	$(VENV)/bin/ruff check mnist_lib tests benchmarks notebooks site
	$(VENV)/bin/ruff format --check mnist_lib tests benchmarks notebooks site

# The ranges notebooks 03, 04, 06 and 07 state must hold for any seed and any machine, not only
# for the committed run: run them at seeds 0, 1 and 2 and with PyTorch's unvectorized CPU
# kernels, and gather each run's recorded figures into results/claims.csv (committed; the
# notebooks show it).
CLAIMS := 03 04 06 07
check-claims: data
	rm -rf outputs/claims
	for seed in 0 1 2; do \
		$(PY) -m mnist_lib tutorial --only $(CLAIMS) -p SEED $$seed --out outputs/claims/seed-$$seed || exit 1; \
	done
	ATEN_CPU_CAPABILITY=default $(PY) -m mnist_lib tutorial --only $(CLAIMS) --out outputs/claims/default-kernels
	$(PY) -m mnist_lib.claims outputs/claims

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
