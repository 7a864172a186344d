"""Training a model in memory: the recipe, the device, evaluation, `train_epoch` (one
pass, as notebook 03 writes it out) and `train_model` (the recipe's epochs, resumable;
`runs.train_run` adds the test split and the run folder). `prepare` and `make_optimizer`
hold the choices made for speed rather than for learning.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .augment import RandomAffine
from .batches import Batches
from .errors import ConfigError, DeviceUnavailable, TrainingDiverged
from .history import STEPS_PER_EPOCH, History

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("onecycle", "constant")
EVAL_BATCH_SIZE = 2000


@dataclass(frozen=True)
class Recipe:
    """How to train: everything but the model and the seed. Invalid values fail at once."""

    epochs: int
    batch_size: int
    lr: float  # the peak rate of the one-cycle schedule, or the constant rate
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "onecycle"
    label_smoothing: float = 0.0
    augment: RandomAffine | None = None  # a random warp of every training batch

    def __post_init__(self) -> None:
        def bad(name: str, ok: Callable[[Any], bool]) -> bool:
            value = getattr(self, name)
            return isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value)

        problems = [
            f"{name} must be a positive integer, got {getattr(self, name)!r}"
            for name in ("epochs", "batch_size")
            if bad(name, lambda v: isinstance(v, int) and v > 0)
        ]
        for name, ok, bound in (
            ("lr", lambda v: 0 < v, "> 0"),
            ("weight_decay", lambda v: 0 <= v, ">= 0"),
            ("label_smoothing", lambda v: 0 <= v < 1, ">= 0 and < 1"),
        ):
            if bad(name, lambda v, ok=ok: math.isfinite(v) and ok(v)):
                problems.append(f"{name} must be a finite number {bound}, got {getattr(self, name)!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"unknown optimizer {self.optimizer!r}: choose one of {list(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"unknown schedule {self.schedule!r}: choose one of {list(SCHEDULES)}")
        if self.augment is not None and not isinstance(self.augment, RandomAffine):
            problems.append(f"augment must be a RandomAffine or None, got {self.augment!r}")
        if problems:
            raise ConfigError("; ".join(problems), "fix the recipe.")

    def changed(self, **changes: Any) -> Recipe:
        """This recipe with some fields changed; a value of None keeps the field as it is.

        The one way the package overrides a recipe: command-line options, notebook
        parameters and study variants all come through here.
        """
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown recipe settings {unknown}", f"use some of {sorted(names)}.")
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["augment"] = self.augment.to_dict() if self.augment is not None else None
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Recipe:
        """The inverse of `to_dict`."""
        if not isinstance(values, dict):
            raise ConfigError(f"a recipe is a dict, got {type(values).__name__}")
        values = dict(values)
        if values.get("augment") is not None:
            values["augment"] = RandomAffine.from_dict(values["augment"])
        try:
            return cls(**values)
        except TypeError as e:
            raise ConfigError(f"not a recipe: {e}") from None


# Chosen on the validation split (never on test) over five seeds; notebook 03 shows the
# choice and the benchmarks' README the trials. LeNet-5: Adam with a one-cycle schedule
# passes 99% within three epochs at batch 128. The MLP: SGD with Nesterov momentum and
# a little weight decay; larger batches or rates made it unstable.
DEFAULT_RECIPES = {
    "lenet5": Recipe(epochs=3, batch_size=128, lr=1.2e-2),
    "mlp": Recipe(epochs=12, batch_size=256, lr=0.2, optimizer="sgd", weight_decay=5e-4),
}


# Why a device that exists in PyTorch's vocabulary may still be missing here.
_MISSING = {
    "cuda": "CUDA was requested but torch.cuda.is_available() is False (no NVIDIA GPU visible, or a "
    "CPU-only PyTorch build).",
    "mps": "MPS was requested but torch.backends.mps.is_available() is False (not an Apple Silicon "
    "Mac, or PyTorch without MPS).",
}


def select_device(requested: str | torch.device | None = "auto") -> torch.device:
    """ "auto" (or None) picks CUDA, then Apple's MPS, then the CPU; anything else must exist."""
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if requested is None or str(requested) == "auto":
        return torch.device(next(kind for kind, ok in available.items() if ok))
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        raise DeviceUnavailable(
            f"{requested!r} is not a device name.", "use auto, cpu, cuda, cuda:N or mps."
        ) from None
    if device.type not in available:
        raise DeviceUnavailable(f"unsupported device {device}.", "use auto, cpu, cuda or mps.")
    fix = "ask for device 'auto' or 'cpu' instead."
    if not available[device.type]:
        raise DeviceUnavailable(_MISSING[device.type], fix)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceUnavailable(
            f"{device} was requested but only {torch.cuda.device_count()} CUDA device(s) exist.", fix
        )
    return device


def cpu_name() -> str:
    """The CPU's model name where the system says it (Linux), else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model"):  # x86 and Arm spell it so
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description(device: torch.device) -> str:
    """A human-readable name: the GPU's name, or the CPU, its vector kernels and threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    cpu = cpu_name()
    threads = torch.get_num_threads()
    kernels = torch.backends.cpu.get_cpu_capability()
    return f"CPU {cpu}, {kernels} kernels, {threads} thread{'s' if threads != 1 else ''}"


# Speed: the choices that make training faster without changing what it learns.
def prepare(model: nn.Module, device: torch.device) -> nn.Module:
    """Move `model` to `device` in the memory layout that trains fastest there.

    On a CPU, oneDNN runs convolutions faster on channels-last tensors, except next to
    batch norm, whose CPU kernels are slower in that layout (benchmarks/README.md).
    """
    model.to(device)
    kinds = {type(m) for m in model.modules()}
    if device.type == "cpu" and nn.Conv2d in kinds and nn.BatchNorm2d not in kinds:
        model.to(memory_format=torch.channels_last)
    return model


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer. Fused kernels update all parameters in one call (faster,
    same arithmetic). SGD uses Nesterov momentum 0.9."""
    params = model.parameters()
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=recipe.lr, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay, fused=True
        )
    cls = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=recipe.lr, weight_decay=recipe.weight_decay, fused=True)


def make_schedule(
    optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """One-cycle (Smith, 2018): the rate warms up to `recipe.lr` over the first 30% of the
    steps and anneals to nearly zero, while momentum (Adam's beta1) moves the opposite
    way between 0.95 and 0.85. Or a constant rate."""
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def train_epoch(
    model: nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    label_smoothing: float = 0.0,
    step_losses: list[float] | None = None,
) -> tuple[float, float]:
    """One pass over `batches`, one optimizer step per batch. Returns the running mean of
    the loss being minimized and the running accuracy (percent), both in training mode.
    They stay on the device until the end, so a GPU is waited for once per epoch. Given a
    list, `step_losses` gets the mean loss of each tenth of the epoch's steps (of each step,
    where an epoch has fewer than ten)."""
    model.train()
    loss_sum = torch.zeros((), device=batches.device)
    losses = []  # each step's, to average over tenths of the epoch
    correct = torch.zeros((), device=batches.device, dtype=torch.long)
    for images, labels in batches:
        logits = model(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        loss_sum += loss.detach() * len(labels)
        losses.append(loss.detach())
        correct += (logits.argmax(1) == labels).sum()
    if step_losses is not None:
        tenths = torch.stack(losses).double().cpu().tensor_split(min(STEPS_PER_EPOCH, len(losses)))
        step_losses.extend(part.mean().item() for part in tenths)
    return loss_sum.item() / batches.num_samples, 100.0 * correct.item() / batches.num_samples


@torch.inference_mode()
def predict(model: nn.Module, batches: Batches) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [N, 10] and labels [N] over all of `batches` (in order), on the CPU."""
    model.eval()
    logits, labels = [], []
    for images, y in batches:
        logits.append(model(images).float().cpu())
        labels.append(y.cpu())
    return torch.cat(logits), torch.cat(labels)


def evaluate(model: nn.Module, batches: Batches) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (percent) of `model` on all of `batches`."""
    logits, labels = predict(model, batches)
    loss = F.cross_entropy(logits, labels).item()
    return loss, 100.0 * (logits.argmax(1) == labels).double().mean().item()


@dataclass
class TrainingState:
    """Everything `train_model` needs to continue after an epoch as it would have gone on:
    the one definition of what a resumable run saves (`runs` adds the spec and writes it)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    train: Batches
    history: History

    def to_dict(self) -> dict[str, Any]:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "batches": {
                "order": self.train.order_rng.get_state(),
                "augment": self.train.augment_rng.get_state(),
            },
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": cuda,
            "rows": self.history.rows,
            "steps": self.history.steps,
        }

    def load(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])
        self.train.order_rng.set_state(saved["batches"]["order"])
        self.train.augment_rng.set_state(saved["batches"]["augment"])
        torch.set_rng_state(saved["torch_rng"])
        if saved["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        self.history.rows = [dict(r) for r in saved["rows"]]
        self.history.steps = [list(s) for s in saved.get("steps", [])]


def train_model(
    model: nn.Module,
    train: Batches,
    val: Batches,
    recipe: Recipe,
    *,
    log: Callable[[str], None] | None = print,
    after_epoch: Callable[[TrainingState], None] | None = None,
    resume: dict[str, Any] | None = None,
    stop_after: int | None = None,
    name: str = "model",
) -> History:
    """Train `model` for `recipe.epochs` epochs of `train_epoch`, measuring `val` after each.

    `stop_after` ends after that many epochs (the schedule still spans all of them).
    `after_epoch` receives the state after every epoch; `resume`, such a state as
    `TrainingState.to_dict` gave it, continues exactly as an unbroken run would. A loss
    that stops being finite raises `TrainingDiverged`.
    """
    prepare(model, train.device)
    optimizer = make_optimizer(model, recipe)
    schedule = make_schedule(optimizer, recipe, len(train))
    state = TrainingState(model, optimizer, schedule, train, History())
    if resume is not None:
        state.load(resume)
    last = recipe.epochs if stop_after is None else min(stop_after, recipe.epochs)
    for epoch in range(len(state.history.rows) + 1, last + 1):
        start = time.perf_counter()
        step_losses: list[float] = []
        train_loss, train_acc = train_epoch(
            model, train, optimizer, schedule, recipe.label_smoothing, step_losses
        )
        seconds = time.perf_counter() - start
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"{name}: the training loss became {train_loss} in epoch {epoch}; the weights "
                "are no longer numbers, and nothing of this epoch was saved.",
                f"lower the learning rate (it was {recipe.lr:g} at its peak), or the weight decay.",
            )
        val_loss, val_acc = evaluate(model, val)
        state.history.append(
            epoch=epoch,
            train_loss=train_loss,
            train_acc=train_acc,
            val_loss=val_loss,
            val_acc=val_acc,
            seconds=seconds,
        )
        state.history.steps += [
            [epoch - 1 + (i + 1) / len(step_losses), loss] for i, loss in enumerate(step_losses)
        ]
        if log is not None:
            log(
                f"{name} epoch {epoch:2d}/{recipe.epochs}  train loss {train_loss:.4f} acc "
                f"{train_acc:6.2f}%  val loss {val_loss:.4f} acc {val_acc:6.2f}%  {seconds:5.1f}s"
            )
        if after_epoch is not None:
            after_epoch(state)
    return state.history
