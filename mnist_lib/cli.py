"""The command line, `python -m mnist_lib`: the package's one entry point.

python -m mnist_lib data                      check (or download) MNIST
python -m mnist_lib train --model lenet5      train a model into runs/lenet5/
python -m mnist_lib evaluate runs/lenet5      test loss and accuracy of a trained model
python -m mnist_lib tutorial                  run every notebook in order (= make tutorial)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .batches import DEFAULT_RESIZE, RESIZE_METHODS
from .errors import ConfigError, MnistLibError, RunFolderError, TrainingInterrupted
from .models import MODEL_NAMES
from .train import OPTIMIZERS, SCHEDULES


def _checked(convert: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Callable[[str], Any]:
    """An argparse type: `convert`, then refuse a value that is not `ok`, saying it must be `what`."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


_positive_int = _checked(int, lambda v: v > 0, "a positive integer")
_seed = _checked(int, lambda v: 0 <= v < 2**63, "an integer from 0 to 2**63 - 1")
_finite = _checked(float, math.isfinite, "a finite number")


def _add_train(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a model into a run folder (history, weights, curves)")
    t.add_argument("--model", choices=MODEL_NAMES, required=True)
    t.add_argument("--epochs", type=_positive_int, help="default: the model's recipe")
    t.add_argument("--batch-size", type=_positive_int, help="default: the model's recipe")
    t.add_argument("--lr", type=_finite, help="peak learning rate (default: the model's recipe)")
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--schedule", choices=SCHEDULES)
    t.add_argument("--weight-decay", type=_finite)
    t.add_argument("--label-smoothing", type=_finite)
    t.add_argument(
        "--resize",
        choices=RESIZE_METHODS,
        default=DEFAULT_RESIZE,
        help="how 28x28 becomes 32x32 (default: %(default)s)",
    )
    t.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, mps")
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument("--data-dir")
    t.add_argument("--out", type=Path, default=None, help="run folder (default: <repo>/runs/<model>)")
    t.add_argument("--resume", action="store_true", help="continue the interrupted run saved for this folder")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mnist_lib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("data", help="check the four MNIST files (download them if missing)")
    d.add_argument("--data-dir", help="data folder (default: $MNIST_DATA_DIR or <repo>/data)")
    d.add_argument(
        "--from",
        dest="source",
        metavar="FOLDER",
        help="copy the four files from this local folder first (offline set-up)",
    )

    _add_train(sub)

    e = sub.add_parser("evaluate", help="test loss and accuracy of a trained model")
    e.add_argument("run", type=Path, help="a run folder, or its model.pt")
    e.add_argument("--split", choices=("test", "val"), default="test")
    e.add_argument("--device", default="auto")
    e.add_argument("--data-dir")

    n = sub.add_parser("tutorial", help="run the notebooks in order with papermill (= make tutorial)")
    n.add_argument("--out", type=Path, default=None, help="output folder (default: outputs/)")
    n.add_argument("--only", nargs="+", metavar="PREFIX", help="run only these, e.g. --only 03 04")
    n.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a notebook parameter, e.g. -p SEED 1 (each notebook must have it)",
    )
    n.add_argument("--quick", action="store_true", help="short mode: notebook 05's study shortened")
    n.add_argument(
        "--refresh",
        action="store_true",
        help="for maintainers: execute the notebooks in place at their defaults (the committed outputs)",
    )
    return p


def _say(line: str = "") -> None:
    """print, that goes on quietly when the reader of the output has gone (`| head -1`):
    a training keeps running to the end and saves its run."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # Point stdout at /dev/null, so that later prints and the flush at exit do not fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _data(args: argparse.Namespace) -> None:
    from .data import copy_into, verify

    if args.source:
        copy_into(args.source, args.data_dir)
    for name, path in verify(args.data_dir).items():
        print(f"ok  {name:<26} {path}")


def _train(args: argparse.Namespace) -> None:
    from .models import ModelConfig
    from .paths import default_run_dir, shown
    from .runs import has_interrupted_run, train_run
    from .train import DEFAULT_RECIPES, device_description, select_device

    options = ("epochs", "batch_size", "lr", "optimizer", "schedule", "weight_decay", "label_smoothing")
    recipe = DEFAULT_RECIPES[args.model].changed(**{name: getattr(args, name) for name in options})
    device = select_device(args.device)
    out = args.out or default_run_dir(args.model)
    if args.resume and not has_interrupted_run(out):
        raise RunFolderError(
            "nothing to resume: no interrupted training of this run folder is saved beside it.",
            "leave out --resume to train it from the start (that replaces a finished run in it).",
            out,
        )
    _say(f"training {args.model} on {device_description(device)} into {shown(out)}/")
    run = train_run(
        out,
        ModelConfig(args.model),
        recipe,
        seed=args.seed,
        resize=args.resize,
        device=device,
        data_dir=args.data_dir,
        resume=args.resume,
        log=_say,
    )
    _say(
        f"{args.model}: {run.meta['parameters']:,} parameters, validation accuracy "
        f"{run.history.final['val_acc']:.2f}%, test accuracy {run.test_acc:.2f}% "
        f"({run.meta['wall_seconds']:.1f} s)"
    )
    _say(f"wrote {shown(out)}/: run.json, history.csv, model.pt, curves.png")


def _evaluate(args: argparse.Namespace) -> None:
    from .batches import mnist_batches
    from .runs import load_model
    from .train import EVAL_BATCH_SIZE, evaluate, select_device

    device = select_device(args.device)
    model, config, resize = load_model(args.run, device)
    batches = mnist_batches(args.split, EVAL_BATCH_SIZE, device=device, resize=resize, data_dir=args.data_dir)
    loss, acc = evaluate(model, batches)
    print(
        f"{args.run}: {config.name} {args.split} loss {loss:.4f}, {args.split} accuracy "
        f"{acc:.2f}% on {batches.num_samples:,} images"
    )


def _tutorial(args: argparse.Namespace) -> int:
    from . import tutorial
    from .paths import output_dir

    if args.refresh:
        if args.parameter or args.out or args.quick:
            raise ConfigError(
                "--refresh runs the notebooks at their defaults, into notebooks/",
                "leave out -p, --out and --quick.",
            )
        return tutorial.refresh(args.only)
    out = output_dir(args.out or "")
    return tutorial.run(out, quick=args.quick, only=args.only, parameters=dict(args.parameter))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"data": _data, "train": _train, "evaluate": _evaluate, "tutorial": _tutorial}
    try:
        status = commands[args.command](args)
    except TrainingInterrupted as e:
        print(f"\n{e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except MnistLibError as e:  # the package's own errors: one line; anything else is a bug
        print(f"error: {e}", file=sys.stderr)
        return 2
    return status or 0
