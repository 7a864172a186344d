"""Saving and loading trained models as state_dicts with what is needed to rebuild them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import atomic_path
from .models import build_model


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    model_name: str,
    model_kwargs: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write the model's state_dict, name and constructor arguments atomically.

    Only tensors and plain JSON values are stored (`meta` goes through JSON, which also
    rejects anything exotic early), so the file loads with `torch.load(..., weights_only=True)`.
    """
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {
        "model": model_name,
        "model_kwargs": json.loads(json.dumps(model_kwargs or {})),
        "state_dict": state,
        "meta": json.loads(json.dumps(meta or {})),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved at `path` (in eval mode) and return it with its metadata."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train one with `python -m mnist_lib train`")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        # torch's own message advises loading with weights_only=False, which is the wrong
        # fix for a file that is simply not a checkpoint, and unsafe for one from elsewhere.
        raise ValueError(
            f"{path} is not a readable checkpoint: torch.load could not read it as saved "
            f"weights ({type(e).__name__}). Fix: give the model.pt that `python -m mnist_lib "
            "train` wrote (by default runs/<model>/model.pt)."
        ) from e
    if not isinstance(payload, dict) or "state_dict" not in payload or "model" not in payload:
        raise ValueError(f"{path} is not a checkpoint written by mnist_lib (no model/state_dict)")
    try:
        model = build_model(payload["model"], **payload.get("model_kwargs", {}))
        model.load_state_dict(payload["state_dict"])
    except (ValueError, RuntimeError) as e:
        raise ValueError(
            f"{path} does not fit the {payload['model']!r} model of this version of mnist_lib "
            f"({str(e).splitlines()[0]}); it was probably written by another version: train it again"
        ) from e
    model.to(device).eval()
    return model, payload
