"""Settings for the whole test run (`pytest --nbval`), unit tests and notebooks alike."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile

from mnist_lib.paths import OUTPUT_DIR_ENV
from mnist_lib.tutorial import QUICK_ENV

_made: list[str] = []


def pytest_configure(config):
    # Notebook kernels inherit this environment: notebook 05 runs its short study, and
    # notebook artifacts go to a temporary folder instead of the user's outputs/.
    os.environ.setdefault(QUICK_ENV, "1")
    # Started as a background job of a script (`make test &`), the test run gets SIGINT
    # ignored, and the processes it starts inherit that: the tests that press Ctrl-C on
    # one would test the caller's shell, not this project. Restore Python's default.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if OUTPUT_DIR_ENV not in os.environ:
        folder = tempfile.mkdtemp(prefix="mnist-nbval-")
        _made.append(folder)
        os.environ[OUTPUT_DIR_ENV] = folder
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        # pytest-xdist starts one worker per core, after this ran in its controller. Each
        # worker writes into its own subfolder: its tests train into 03_training, where
        # another worker may be writing notebook 03's runs. And one thread each (inherited
        # by notebook kernels and subprocesses): two per worker would wait on each other.
        os.environ[OUTPUT_DIR_ENV] = os.path.join(os.environ[OUTPUT_DIR_ENV], worker)
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


def pytest_unconfigure(config):
    for folder in _made:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collectstart(collector):
    # nbval compares text outputs; stderr streams carry per-run temporary paths in any
    # warning, so they are not compared (the committed notebooks have none).
    if collector.path is not None and collector.path.suffix == ".ipynb":
        collector.skip_compare += ("stderr",)
