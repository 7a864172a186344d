"""Command line: `python -m mnist_lib {data,train,evaluate} ...`."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from .batches import DEFAULT_RESIZE, RESIZE_METHODS
from .data import MNISTDataError, repo_root
from .train import DEFAULT_RECIPES, OPTIMIZERS, SCHEDULES, DeviceUnavailable, Recipe


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mnist_lib", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="check the four MNIST files (download them if missing)")
    d.add_argument("--data-dir", help="data folder (default: $MNIST_DATA_DIR or <repo>/data)")
    d.add_argument("--from", dest="source", metavar="FOLDER",
                   help="copy the four files from this local folder first (offline set-up)")

    t = sub.add_parser("train", help="train a model, write its history, checkpoint and plots")
    t.add_argument("--model", choices=sorted(DEFAULT_RECIPES), required=True)
    t.add_argument("--epochs", type=_positive_int, help="default: the model's recipe")
    t.add_argument("--batch-size", type=_positive_int, help="default: the model's recipe")
    t.add_argument("--lr", type=float, help="peak learning rate (default: the model's recipe)")
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--schedule", choices=SCHEDULES)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--label-smoothing", type=float)
    t.add_argument("--resize", choices=RESIZE_METHODS, default=DEFAULT_RESIZE,
                   help="how 28x28 becomes 32x32 (default: %(default)s)")
    t.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, mps")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-dir")
    t.add_argument("--out", type=Path, default=None,
                   help="output folder (default: <repo>/runs/<model>)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    e = sub.add_parser("evaluate", help="test loss and accuracy of a saved checkpoint")
    e.add_argument("checkpoint", type=Path)
    e.add_argument("--device", default="auto")
    e.add_argument("--data-dir")
    return p


def _recipe(args: argparse.Namespace) -> Recipe:
    overrides = {
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "optimizer": args.optimizer, "schedule": args.schedule,
        "weight_decay": args.weight_decay, "label_smoothing": args.label_smoothing,
    }
    return dataclasses.replace(DEFAULT_RECIPES[args.model], **{k: v for k, v in overrides.items() if v is not None})


def _writable_folder(folder: Path) -> None:
    """Fail now, not after training, if results could not be written to `folder`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f"cannot write results to {folder} ({e.strerror or e}): choose another --out") from None


def _data(args: argparse.Namespace) -> None:
    from .data import copy_into, verify

    if args.source:
        copy_into(args.source, args.data_dir)
    for name, path in verify(args.data_dir).items():
        print(f"ok  {name:<26} {path}")


def _train(args: argparse.Namespace) -> None:
    from .checkpoint import save_checkpoint
    from .plots import plot_history, save_figure
    from .train import select_device, train_model
    from .tutorial import shown

    recipe = _recipe(args)  # every argument is checked before any work starts
    device = select_device(args.device)
    out = args.out or repo_root() / "runs" / args.model
    _writable_folder(out)
    model, history = train_model(
        args.model, recipe, device=device, seed=args.seed, resize=args.resize,
        data_dir=args.data_dir, progress=not args.no_progress,
    )
    print(f"{args.model}: {history.meta['parameters']:,} parameters on {history.meta['device_name']}, "
          f"final test accuracy {history.final['test_acc']:.2f}% "
          f"in {history.meta['wall_seconds']:.1f}s")
    history.save(out / "history.json")
    history.save(out / "history.csv")
    save_checkpoint(out / "model.pt", model, args.model, history.meta["model_kwargs"], history.meta)
    save_figure(plot_history(history, args.model), out / "curves.png")
    print(f"wrote {shown(out)}/history.json, history.csv, model.pt, curves.png")


def _evaluate(args: argparse.Namespace) -> None:
    from .batches import mnist_batches
    from .checkpoint import load_checkpoint
    from .train import EVAL_BATCH_SIZE, evaluate, select_device

    device = select_device(args.device)
    model, payload = load_checkpoint(args.checkpoint, device)
    resize = payload.get("meta", {}).get("resize", DEFAULT_RESIZE)
    test = mnist_batches("test", EVAL_BATCH_SIZE, device=device, resize=resize, data_dir=args.data_dir)
    loss, acc = evaluate(model, test)
    print(f"{args.checkpoint}: {payload['model']} test loss {loss:.4f}, "
          f"test accuracy {acc:.2f}% on {test.num_samples:,} images")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        {"data": _data, "train": _train, "evaluate": _evaluate}[args.command](args)
    except (MNISTDataError, DeviceUnavailable, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
