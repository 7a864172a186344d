"""Notebook 05's study: variants x seeds as run folders, in parallel or not."""

from __future__ import annotations

import pytest
import torch

from mnist_lib import study
from mnist_lib.augment import RandomAffine
from mnist_lib.errors import ConfigError
from mnist_lib.history import History
from mnist_lib.study import Variant, mean_curves, run_study, summarize
from mnist_lib.train import Recipe

BASE = Recipe(epochs=1, batch_size=256, lr=4e-3)


def test_variant_configs_recipes_and_descriptions():
    bn = Variant("batch norm", model={"batch_norm": True})
    assert bn.config().batch_norm and bn.recipe_from(BASE) == BASE and bn.slug == "batch-norm"
    wd = Variant("wd", recipe={"optimizer": "adamw", "weight_decay": 0.05})
    assert wd.recipe_from(BASE).weight_decay == 0.05 and wd.config().name == "lenet5"
    aug = Variant("aug", recipe={"augment": RandomAffine()})
    assert aug.recipe_from(BASE).augment == RandomAffine()
    assert Variant("baseline").describe() == "nothing (plain LeNet-5)"
    assert wd.describe() == "optimizer=adamw, weight_decay=0.05"


def test_bad_variants_fail_before_any_training(monkeypatch):
    monkeypatch.setattr(study, "_one", lambda *a: pytest.fail("trained"))
    for variants, message in [
        ([Variant("a", model={"dropout": 2.0})], "variant 'a': .*dropout"),
        ([Variant("a", recipe={"lr": -1})], "variant 'a': .*lr must be"),
        ([Variant("a", recipe={"epoch": 3})], "unknown recipe settings"),
        ([Variant("A b"), Variant("a-b")], "clashing"),
    ]:
        with pytest.raises(ConfigError, match=message):
            run_study("unused", variants, [0], BASE, device="cpu", log=None)


def test_a_failing_run_stops_the_study_without_training_the_rest(monkeypatch, tmp_path):
    calls = []

    def failing(folder, variant, seed, *args):
        calls.append(seed)
        raise RuntimeError("out of memory")

    monkeypatch.setattr(study, "_one", failing)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_study(tmp_path, [Variant("baseline")], [0, 1, 2], BASE, device="cpu", log=None, workers=1)
    assert calls == [0]


def test_parallel_runs_give_the_same_results_and_finished_runs_are_loaded(data_dir, tmp_path):
    """Two worker processes against one process, one thread each: identical runs. A second
    call with the same settings loads the finished run folders instead of training."""
    threads = torch.get_num_threads()
    base = BASE.changed(batch_size=512)
    variants = [Variant("baseline"), Variant("ls", recipe={"label_smoothing": 0.1})]
    columns = ["variant", "seed", "val_acc", "val_loss", "test_acc"]
    try:
        torch.set_num_threads(1)
        one, _ = run_study(
            tmp_path / "one", variants, [0], base, device="cpu", log=None, workers=1, train_limit=4096
        )
        two, histories = run_study(
            tmp_path / "two", variants, [0], base, device="cpu", log=None, workers=2, train_limit=4096
        )
        lines = []
        again, _ = run_study(
            tmp_path / "two", variants, [0], base, device="cpu", log=lines.append, workers=1, train_limit=4096
        )
    finally:
        torch.set_num_threads(threads)
    assert two[columns].equals(one[columns]) and again[columns].equals(one[columns])
    assert set(histories) == {("baseline", 0), ("ls", 0)}
    assert (tmp_path / "two" / "ls" / "seed-0" / "run.json").is_file()
    assert len(lines) == 2 and all("(loaded: trained earlier in" in line for line in lines), lines
    assert not one["loaded"].any() and not two["loaded"].any() and again["loaded"].all()


def test_summary_and_mean_curves():
    import pandas as pd

    runs = pd.DataFrame(
        [
            {
                "variant": v,
                "seed": s,
                "val_acc": 98 + s * 0.1,
                "val_loss": 0.1,
                "train_acc": 99.0,
                "test_acc": 98.5,
                "test_loss": 0.05,
                "seconds": 10.0,
            }
            for v in ("a", "b")
            for s in (0, 1)
        ]
    )
    table = summarize(runs)
    assert list(table.index) == ["a", "b"] and table.loc["a", "seeds"] == 2
    assert table.loc["a", "val acc mean (%)"] == pytest.approx(98.05)
    h = {
        ("a", 0): History([{"epoch": 1, "val_acc": 90.0}, {"epoch": 2, "val_acc": 92.0}]),
        ("a", 1): History([{"epoch": 1, "val_acc": 94.0}, {"epoch": 2, "val_acc": 96.0}]),
    }
    assert mean_curves(h)["a"].tolist() == [92.0, 94.0]
