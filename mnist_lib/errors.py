"""The package's own errors: what went wrong, where, and what to do, as fields.

The command line prints these as one line each (`error: ...`) and exits with status 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
from pathlib import Path


class MnistLibError(Exception):
    """An error with a `problem` (what went wrong), a `fix` (what to do) and, where one is
    concerned, the `path` of the file or folder."""

    def __init__(self, problem: str, fix: str = "", path: str | os.PathLike[str] | None = None):
        self.problem = problem
        self.fix = fix
        self.path = Path(path) if path is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path is not None else ""
        return f"{where}{self.problem}" + (f" Fix: {self.fix}" if self.fix else "")

    def __reduce__(self):  # so that errors cross process boundaries (the study's workers)
        return (type(self), (self.problem, self.fix, self.path))


class ConfigError(MnistLibError, ValueError):
    """A setting (recipe, model, parameter, command-line option) is out of range."""


class MNISTDataError(MnistLibError):
    """An MNIST file is missing, unreadable or not what it should be."""


class MNISTFilesMissing(MNISTDataError):
    """Some of the four files are not there and could not be downloaded."""


class DeviceUnavailable(MnistLibError):
    """The requested device does not exist on this machine or in this PyTorch build."""


class CheckpointError(MnistLibError):
    """A file or folder is not a checkpoint or run that this version can load."""


class RunFolderError(MnistLibError):
    """A run folder cannot be written: busy with another training, or not writable."""


class TrainingDiverged(MnistLibError):
    """The loss became infinite or NaN; nothing of the diverged run is saved."""


class TrainingInterrupted(MnistLibError):
    """Ctrl-C during training: what was saved and how to resume."""
