"""A trained run on disk: one folder (run.json, history.csv, model.pt, curves.png; the
README describes them), written whole or not at all, and resumable.

While a run trains, its state after every epoch is saved beside it in `.NAME.partial/`; a
run stopped by Ctrl-C, a kill or a power cut continues from there with `resume=True` and
ends exactly as it would have. Only a finished run replaces the folder, in one step; a
second training aimed at the same folder while one runs is refused.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .atomic import atomic_path, fsync_folder
from .batches import DEFAULT_RESIZE, RESIZE_METHODS, mnist_batches
from .errors import CheckpointError, ConfigError, RunFolderError, TrainingDiverged, TrainingInterrupted
from .history import History
from .models import ModelConfig
from .params import count_parameters
from .paths import output_dir as resolve_output_dir
from .train import (
    DEFAULT_RECIPES,
    EVAL_BATCH_SIZE,
    Recipe,
    TrainingState,
    device_description,
    evaluate,
    select_device,
    train_model,
)

RUN_FILE, MODEL_FILE, HISTORY_FILE, CURVES_FILE = "run.json", "model.pt", "history.csv", "curves.png"
STATE_FILE = "state.pt"
FORMAT = 1


@dataclass
class Run:
    """One trained model with everything that says how it came to be."""

    config: ModelConfig
    recipe: Recipe
    seed: int
    resize: str
    model: nn.Module
    history: History
    test_loss: float
    test_acc: float
    meta: dict[str, Any] = field(default_factory=dict)  # device, versions, times
    folder: Path | None = None


def spec_of(
    config: ModelConfig, recipe: Recipe, seed: int, resize: str, device: torch.device, train_limit: int | None
) -> dict[str, Any]:
    """Everything that decides a run's numbers: the same spec trains the same run."""
    spec = {
        "config": config.to_dict(),
        "recipe": recipe.to_dict(),
        "seed": seed,
        "resize": resize,
        "train_limit": train_limit,
        "device": device.type,
        # str(): torch.__version__ is a TorchVersion, which torch.load(weights_only=True)
        # refuses; in the spec it would make the saved state unreadable.
        "torch": str(torch.__version__),
        "mnist_lib": __version__,
    }
    if device.type == "cpu":  # CPU results depend on the vector kernels and thread count
        spec |= {"kernels": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}
    return spec


def _partial(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.partial"


def _restore_interrupted_swap(folder: Path) -> None:
    """Finish what a killed write left half done. Call only while holding the folder's lock."""
    partial = _partial(folder)
    written = all((partial / name).is_file() for name in (RUN_FILE, MODEL_FILE))
    if written and not (partial / STATE_FILE).exists():
        # Killed after the finished run was written and its state deleted: put it in place.
        _swap_in(partial, folder)
    elif not folder.exists():
        # A crash between the two renames of `_swap_in` leaves only the old run, set aside.
        old = sorted(folder.parent.glob(f".{folder.name}.old-*"))
        if old:
            os.rename(old[-1], folder)


def _recover(folder: Path) -> None:
    """What every reader does first: restore a run whose write was killed half way, when no
    training holds the folder (one that does will finish the write itself)."""
    set_aside = not folder.exists() and any(folder.parent.glob(f".{folder.name}.old-*"))
    if not set_aside and not (_partial(folder) / RUN_FILE).exists():
        return  # the usual case: nothing to restore, and no lock file made for a reader
    with contextlib.suppress(RunFolderError, OSError), _locked(folder):
        _restore_interrupted_swap(folder)


def _check_replaceable(folder: Path) -> None:
    """Refuse, before any work, to write a run where something not a run of ours would be
    replaced: a file, a folder with anything but the four run files, the working folder."""
    fix = "give --out (the run folder) a new name, e.g. runs/NAME, or remove it yourself."
    here = Path.cwd().resolve()
    if folder.resolve() == here or folder.resolve() in here.parents:
        raise RunFolderError(
            "is the working folder or a folder above it; a run folder is replaced whole.", fix, folder
        )
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise RunFolderError("is a file or a link, not a run folder; it is left as it is.", fix, folder)
    if not folder.is_dir():
        return
    names = {p.name for p in folder.iterdir()}
    try:
        ours = json.loads((folder / RUN_FILE).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        ours = False
    if names and not (ours and names <= {RUN_FILE, MODEL_FILE, HISTORY_FILE, CURVES_FILE}):
        what = "holds other files" if ours else "is not a run folder (no run.json of mnist_lib)"
        raise RunFolderError(f"{what}; it would be replaced whole, so it is left as it is.", fix, folder)


def _clear_leftovers(folder: Path, keep: Path | None = None) -> None:
    """Remove what writes killed part-way left beside `folder` (old folders set aside,
    unfinished new ones). Call only while holding the folder's lock, once
    `_restore_interrupted_swap` has put back an old run that was all there was (or from
    its `_swap_in` of a finished run, which replaces the old one anyway)."""
    for pattern in (f".{folder.name}.old-*", f".{folder.name}.new-*"):
        for leftover in folder.parent.glob(pattern):
            if leftover != keep:
                shutil.rmtree(leftover, ignore_errors=True)


def _swap_in(staging: Path, folder: Path) -> None:
    """Put the finished folder `staging` in the place of `folder`, replacing any old one."""
    _clear_leftovers(folder, keep=staging)
    old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
    if folder.exists():
        os.rename(folder, old)
    os.rename(staging, folder)
    fsync_folder(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the lock of the run folder `folder` (a lock file beside it), or refuse at once."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock_path = folder.parent / f".{folder.name}.lock"
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; runs are still written whole
        yield
        return
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderError(
                "another training is writing this run folder right now.",
                "wait for it to finish, or give this one another output folder.",
                folder,
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save_run(folder: str | os.PathLike[str], run: Run, *, plot: bool = True) -> Path:
    """Write `run` as a complete folder, replacing the run that was there in one step.

    Anything else in its place (a folder of other files, a file) is refused, untouched."""
    folder = _run_folder(folder)
    with _locked(folder):
        _restore_interrupted_swap(folder)
        _check_replaceable(folder)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
        try:
            _write_files(staging, run, plot)
            _swap_in(staging, folder)
        except BaseException as e:
            shutil.rmtree(staging, ignore_errors=True)
            _raise_if_write_failed(
                e, "the run could not be written", "the old run, if any, is untouched", folder
            )
            raise
    run.folder = folder
    return folder


def _run_folder(folder: str | os.PathLike[str]) -> Path:
    """`folder` made absolute, a link at its place followed to where it leads."""
    path = Path(os.path.abspath(folder))
    return path.resolve() if path.is_symlink() else path


def _raise_if_write_failed(e: BaseException, what: str, kept: str, path: Path) -> None:
    # A full disk reaches us as OSError, or from torch.save as a RuntimeError about writing.
    if isinstance(e, OSError) or (isinstance(e, RuntimeError) and "writ" in str(e)):
        detail = e.strerror if isinstance(e, OSError) and e.strerror else " ".join(str(e).split())[:120]
        raise RunFolderError(
            f"{what} ({detail}); nothing is lost: {kept}.", "free some disk space and run it again.", path
        ) from None


def _write_files(target: Path, run: Run, plot: bool) -> None:
    record = {
        "format": FORMAT,
        "config": run.config.to_dict(),
        "recipe": run.recipe.to_dict(),
        "seed": run.seed,
        "resize": run.resize,
        "history": run.history.rows,
        "steps": run.history.steps,
        "test": {"loss": run.test_loss, "acc": run.test_acc},
        "meta": run.meta,
    }
    text = json.dumps(record, indent=1, allow_nan=False)  # strict JSON: no NaN, no Infinity
    with atomic_path(target / RUN_FILE) as tmp:
        tmp.write_text(text)
    run.history.save_csv(target / HISTORY_FILE)
    weights = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
    with atomic_path(target / MODEL_FILE) as tmp:
        torch.save({"config": run.config.to_dict(), "resize": run.resize, "state_dict": weights}, tmp)
    if plot:
        import matplotlib.pyplot as plt

        from .plots import plot_histories, save_figure

        title = (
            f"{run.config.name} ({run.config.describe()}), seed {run.seed}: test accuracy {run.test_acc:.2f}%"
        )
        fig = plot_histories({"": run.history}, title=title)
        save_figure(fig, target / CURVES_FILE)
        plt.close(fig)  # a notebook would otherwise show it again at the end of the cell


def _read_checkpoint(path: Path, device: str | torch.device) -> dict[str, Any]:
    """model.pt's contents, read with weights_only=True, refused unless it has our keys."""
    fix = (
        "give a run folder that `python -m mnist_lib train` or a notebook wrote (by "
        "default runs/<model>), or its model.pt."
    )
    if not path.is_file():
        raise CheckpointError("no such checkpoint.", fix, path)
    try:
        with warnings.catch_warnings():  # torch warns about some pickles it then refuses
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        # torch's own message advises weights_only=False: the wrong fix for a file that is
        # not a checkpoint, and an unsafe one for a file from elsewhere.
        raise CheckpointError(
            f"not a readable checkpoint: torch.load could not read it as saved weights ({type(e).__name__}).",
            fix,
            path,
        ) from None
    if not isinstance(payload, dict) or not {"config", "state_dict", "resize"} <= set(payload):
        raise CheckpointError(
            "not a checkpoint of this version of mnist_lib (it lacks the config, resize or weights).",
            fix + " Or train it again.",
            path,
        )
    return payload


def load_model(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelConfig, str]:
    """The model saved in `path` (a run folder or its model.pt), in eval mode, with its
    configuration and the resize method it was trained with."""
    path = Path(path)
    _recover(path.parent if path.name == MODEL_FILE else path)
    if path.is_dir():
        path = path / MODEL_FILE
    payload = _read_checkpoint(path, device)
    try:
        config = ModelConfig.from_dict(payload["config"])
        if payload["resize"] not in RESIZE_METHODS:
            raise ConfigError(f"unknown resize {payload['resize']!r}")
        if not isinstance(payload["state_dict"], dict):
            raise ConfigError("its weights are not a state_dict")
        with warnings.catch_warnings(), torch.device("meta"):
            # Shapes first on the meta device (no memory): a crafted config of huge layers
            # is refused before anything is allocated for it.
            warnings.simplefilter("ignore")
            config.build().load_state_dict(payload["state_dict"])
        model = config.build()
        model.load_state_dict(payload["state_dict"])
    except (ValueError, TypeError, RuntimeError) as e:  # ConfigError is a ValueError
        # one line, with the detail (torch lists the missing and unexpected keys on lines)
        detail = " ".join((e.problem if isinstance(e, ConfigError) else str(e)).split())
        raise CheckpointError(
            f"does not fit this version of mnist_lib: {detail}", "train it again with this version.", path
        ) from None
    model.to(device).eval()
    return model, config, payload["resize"]


def load_run(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> Run:
    """Read a run folder that `save_run` wrote."""
    folder = Path(folder)
    _recover(folder)
    if not (folder / RUN_FILE).is_file():
        resumable = (_partial(folder) / STATE_FILE).is_file()
        partial = " An interrupted run is saved beside it: resume it." if resumable else ""
        raise CheckpointError(
            f"no finished run here (no {RUN_FILE}).{partial}",
            "train it with `python -m mnist_lib train`, or run the notebook that makes it.",
            folder,
        )
    try:
        record = json.loads((folder / RUN_FILE).read_text(), parse_constant=_not_json)
        if record.get("format") != FORMAT:
            raise ValueError(f"format {record.get('format')!r}, this version reads {FORMAT}")
        model, config, resize = load_model(folder, device)
        return Run(
            config=config,
            recipe=Recipe.from_dict(record["recipe"]),
            seed=int(record["seed"]),
            resize=resize,
            model=model,
            history=History(rows=record["history"], steps=record.get("steps", [])),
            test_loss=record["test"]["loss"],
            test_acc=record["test"]["acc"],
            meta=record["meta"],
            folder=folder,
        )
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"{RUN_FILE} is damaged or of another version ({type(e).__name__}: {e}).",
            "train this run again.",
            folder,
        ) from None


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a number in strict JSON")


def _saved_spec(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / RUN_FILE).read_text())["meta"]["spec"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def train_run(
    folder: str | os.PathLike[str],
    config: ModelConfig,
    recipe: Recipe,
    *,
    seed: int = 0,
    resize: str = DEFAULT_RESIZE,
    device: str | torch.device | None = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    train_limit: int | None = None,
    resume: bool = False,
    reuse: bool = False,
    plot: bool = True,
    log: Callable[[str], None] | None = print,
) -> Run:
    """Train a model into the run folder `folder` and return the run: `train.train_model`
    (its state saved beside the folder after every epoch), the test split measured once,
    the folder written whole. Everything is checked before any data is read. `resume`
    continues an interrupted run of the same spec (without it, a saved state is an error
    that says so); `reuse` loads a finished run of the identical spec instead of training."""
    folder = _run_folder(folder)
    _check_can_train(folder, seed, resize, train_limit)
    dev = select_device(device)
    spec = spec_of(config, recipe, seed, resize, dev, train_limit)
    if reuse and _saved_spec(folder) == spec:
        run = load_run(folder, dev)
        if log is not None:
            log(
                f"{config.name}: loaded the finished run in {folder.name}/ (same settings); delete the folder to train it again"
            )
        return run
    partial = _partial(folder)
    with _locked(folder):
        _restore_interrupted_swap(folder)
        _clear_leftovers(folder)
        saved = _saved_state(folder, spec, resume, dev)
        run = _train_and_test(partial, config, recipe, spec, saved, dev, data_dir, log)
        _check_replaceable(folder)  # again: something may have been put there meanwhile
        try:
            _write_files(partial, run, plot)
        except (OSError, RuntimeError) as e:
            kept = (
                f"all {len(run.history.rows)} epochs are saved in {partial.name}/, --resume finishes the run"
            )
            _raise_if_write_failed(e, f"{config.name}: the finished run could not be written", kept, folder)
            raise
        (partial / STATE_FILE).unlink()  # only now: a crash while writing can still resume
        _swap_in(partial, folder)
        run.folder = folder
    return run


def _check_can_train(folder: Path, seed: int, resize: str, train_limit: int | None) -> None:
    """Everything `train_run` checks before any data is read."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    if resize not in RESIZE_METHODS:
        raise ConfigError(f"resize must be one of {list(RESIZE_METHODS)}, got {resize!r}")
    if train_limit is not None and train_limit <= 0:
        raise ConfigError(f"train_limit must be positive, got {train_limit}")
    _check_replaceable(folder)
    try:  # fail now, not after training, if the results could not be written
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder.parent):
            pass
    except OSError as e:
        raise RunFolderError(
            f"cannot write results here ({e.strerror or e}).",
            "choose another output folder (--out).",
            folder.parent,
        ) from None


def has_interrupted_run(folder: str | os.PathLike[str]) -> bool:
    """True when an interrupted training of the run folder `folder` is saved beside it:
    what `resume=True` (`train --resume`) continues."""
    return (_partial(_run_folder(folder)) / STATE_FILE).is_file()


def _differences(saved: Any, now: Any, name: str = "") -> list[str]:
    """The settings that differ between two specs, e.g. ["seed (saved 1, now 0)"]."""
    if isinstance(saved, dict) and isinstance(now, dict):
        keys = sorted(set(saved) | set(now))
        return [d for k in keys for d in _differences(saved.get(k), now.get(k), f"{name}{k}.")]
    return [] if saved == now else [f"{name.rstrip('.')} (saved {saved!r}, now {now!r})"]


# --- the resume state: `train.TrainingState` says what it holds; here it is written
# beside the run folder after every epoch with the spec, and read back and checked.


def _saved_state(
    folder: Path, spec: dict[str, Any], resume: bool, device: torch.device
) -> dict[str, Any] | None:
    """The state an interrupted run of `spec` saved beside `folder`, if `resume` allows it
    (None if there is none); leaves `_partial(folder)` ready to receive the new states."""
    partial = _partial(folder)
    if not (partial / STATE_FILE).is_file():
        shutil.rmtree(partial, ignore_errors=True)  # leftovers of a run that saved nothing
        partial.mkdir(parents=True, exist_ok=True)
        return None
    if not resume:
        raise RunFolderError(
            f"an interrupted run is saved in {partial.name}/ beside it.",
            "continue it with --resume (resume=True), or delete that folder to start again.",
            folder,
        )
    try:
        saved = torch.load(partial / STATE_FILE, map_location=device, weights_only=True)
    except Exception as e:
        raise RunFolderError(
            f"the interrupted run saved in {partial.name}/ cannot be read ({type(e).__name__}).",
            "delete that folder to start again.",
            folder,
        ) from None
    if not isinstance(saved, dict) or saved.get("spec") != spec:
        differ = _differences(saved.get("spec") if isinstance(saved, dict) else None, spec)
        raise RunFolderError(
            f"the interrupted run saved in {partial.name}/ was trained with other "
            f"settings: {'; '.join(differ)}.",
            "resume it with the same settings, or delete that folder to start again.",
            folder,
        )
    for leftover in partial.iterdir():  # a kill mid-write left temporary files
        if leftover.name != STATE_FILE:
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
    return saved


def _save_state(partial: Path, spec: dict[str, Any], state: TrainingState) -> None:
    try:
        with atomic_path(partial / STATE_FILE) as tmp:
            torch.save({"spec": spec, **state.to_dict()}, tmp)
    except (OSError, RuntimeError) as e:
        epochs = _epochs_saved(partial)
        kept = (
            f"epochs 1-{epochs} are saved in {partial.name}/, --resume continues"
            if epochs
            else "no epoch had been saved"
        )
        folder = partial.parent / partial.name[1 : -len(".partial")]
        what = f"{spec['config']['name']}: the state after epoch {len(state.history.rows)} could not be saved"
        _raise_if_write_failed(e, what, kept, folder)
        raise


def _train_and_test(
    partial: Path,
    config: ModelConfig,
    recipe: Recipe,
    spec: dict[str, Any],
    saved: dict[str, Any] | None,
    dev: torch.device,
    data_dir: str | os.PathLike[str] | None,
    log: Callable[[str], None] | None,
) -> Run:
    """`train_model` (continuing from `saved`, saving the state in `partial` after every
    epoch), then the test split measured once: the run, not yet written."""
    wall = time.perf_counter()
    name, seed, resize = config.name, spec["seed"], spec["resize"]
    torch.manual_seed(seed)
    model = config.build()
    where = {"device": dev, "resize": resize, "data_dir": data_dir}
    train = mnist_batches(
        "train", recipe.batch_size, seed=seed, augment=recipe.augment, limit=spec["train_limit"], **where
    )
    val = mnist_batches("val", EVAL_BATCH_SIZE, **where)
    done = len(saved["rows"]) if saved else 0
    if saved and log is not None:
        log(f"{name}: resuming after epoch {done} of {recipe.epochs}")
    try:
        after_epoch = functools.partial(_save_state, partial, spec)
        history = train_model(
            model, train, val, recipe, log=log, after_epoch=after_epoch, resume=saved, name=name
        )
    except KeyboardInterrupt:
        raise _interrupted(name, partial) from None
    except TrainingDiverged:
        shutil.rmtree(partial, ignore_errors=True)  # resuming would diverge again
        raise
    test_loss, test_acc = evaluate(model, mnist_batches("test", EVAL_BATCH_SIZE, **where))
    meta = {
        "spec": spec,
        "parameters": count_parameters(model),
        "device": str(dev),
        "device_name": device_description(dev),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "wall_seconds": time.perf_counter() - wall,
        "resumed_after_epoch": done,
    }
    return Run(config, recipe, seed, resize, model, history, test_loss, test_acc, meta)


def _interrupted(name: str, partial: Path) -> TrainingInterrupted:
    epochs = _epochs_saved(partial)
    return TrainingInterrupted(
        f"{name}: interrupted; "
        + (f"epochs 1-{epochs} are saved in {partial}." if epochs else "no epoch had finished."),
        "run the same command again with --resume (resume=True) to continue." if epochs else "run it again.",
    )


def _epochs_saved(partial: Path) -> int:
    try:
        return len(torch.load(partial / STATE_FILE, weights_only=True)["rows"])
    except Exception:
        return 0


def load_or_train(
    output_dir: str | os.PathLike[str] = "",
    *,
    seed: int = 0,
    device: str | torch.device | None = "auto",
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Run]:
    """Notebook 03's two runs, {"lenet5": Run, "mlp": Run}: loaded from
    `<output_dir>/03_training/<name>` when notebook 03 has written them, else trained there
    with the default recipes (and resumed, if a training was interrupted). Prints one line
    per model saying which it was. `output_dir` is resolved like the notebooks' OUTPUT_DIR."""
    runs = {}
    for name in ("lenet5", "mlp"):
        folder = resolve_output_dir(str(output_dir)) / "03_training" / name
        if (folder / RUN_FILE).is_file():
            runs[name] = load_run(folder, select_device(device))
            how = "loaded notebook 03's run"
        else:
            runs[name] = train_run(
                folder,
                ModelConfig(name),
                DEFAULT_RECIPES[name],
                seed=seed,
                device=device,
                data_dir=data_dir,
                resume=True,
                log=None,
            )
            how = f"notebook 03's run was missing: trained it (seed {seed})"
        print(f"{name}: {how}, test accuracy {runs[name].test_acc:.2f}%")
    return runs
