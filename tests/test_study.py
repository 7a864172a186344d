"""The multi-seed study helpers of notebook 05."""

from __future__ import annotations

import json

import pytest

from mnist_lib import study
from mnist_lib.augment import RandomDistortion
from mnist_lib.history import History
from mnist_lib.study import Variant, mean_curves, run_or_load_study, run_study, save_study, summarize
from mnist_lib.train import Recipe


@pytest.fixture
def fake_training(monkeypatch):
    calls = []

    def fake(name, recipe, *, seed, model_kwargs, augment, **kwargs):
        calls.append((recipe, seed, model_kwargs, augment))
        h = History(meta={"parameters": 61_706 + (452 if model_kwargs.get("batch_norm") else 0)})
        for e in range(1, recipe.epochs + 1):
            acc = 98 + e * 0.1 + seed * 0.01 + (0.5 if augment else 0)
            h.append(epoch=e, train_loss=0.1, train_acc=acc, test_loss=0.05, test_acc=acc, seconds=1.0)
        return None, h

    monkeypatch.setattr(study, "train_model", fake)
    return calls


def test_every_variant_runs_with_every_seed_and_the_same_base(fake_training, tmp_path):
    base = Recipe(epochs=3, batch_size=128, lr=4e-3)
    warp = RandomDistortion()
    variants = [Variant("baseline"), Variant("aug", augment=warp),
                Variant("bn+wd", {"batch_norm": True}, {"optimizer": "adamw", "weight_decay": 0.05})]
    runs, histories = run_study(variants, [0, 1, 2], base, log=None, device="cpu", workers=1)
    assert len(runs) == 9 and set(histories) == {(v.name, s) for v in variants for s in (0, 1, 2)}
    recipes = {r for r, *_ in fake_training}
    assert {r.epochs for r in recipes} == {3} and {r.batch_size for r in recipes} == {128}
    assert Recipe(3, 128, 4e-3, optimizer="adamw", weight_decay=0.05) in recipes

    table = summarize(runs)
    assert list(table.index) == ["baseline", "aug", "bn+wd"]
    assert table.loc["aug", "test acc mean (%)"] == pytest.approx(98.3 + 0.01 + 0.5)
    assert table.loc["baseline", "test acc std"] == pytest.approx(0.01)
    assert table.loc["bn+wd", "parameters"] == 62_158
    curves = mean_curves(histories)
    assert list(curves.index) == [1, 2, 3] and curves.loc[3, "baseline"] == pytest.approx(98.31)

    save_study(tmp_path / "study.json", runs, histories)
    saved = json.loads((tmp_path / "study.json").read_text())
    assert len(saved["runs"]) == 9 and len(saved["histories"]) == 9


def test_an_identical_study_is_loaded_not_retrained(fake_training, tmp_path):
    base = Recipe(epochs=2, batch_size=128, lr=4e-3)
    variants = [Variant("baseline"), Variant("ls", recipe_changes={"label_smoothing": 0.1})]
    path = tmp_path / "study.json"
    runs, histories = run_or_load_study(path, variants, [0, 1], base, device="cpu", log=None, workers=1)
    assert len(fake_training) == 4
    lines = []
    again, again_h = run_or_load_study(path, variants, [0, 1], base, device="cpu", log=lines.append, workers=1)
    assert len(fake_training) == 4 and "identical earlier study" in lines[0] and len(lines) == 5
    assert again.equals(runs) and again_h[("ls", 1)].rows == histories[("ls", 1)].rows
    run_or_load_study(path, variants, [0, 1, 2], base, device="cpu", log=None, workers=1)
    assert len(fake_training) == 4 + 6  # a different study (one more seed) trains again
    changed = [Variant("baseline"), Variant("ls", recipe_changes={"label_smoothing": 0.2})]
    run_or_load_study(path, changed, [0, 1, 2], base, device="cpu", log=None, workers=1)
    assert len(fake_training) == 10 + 6  # same names, other settings: trains again
    path.write_text("{ not json")
    lines = []
    run_or_load_study(path, changed, [0, 1, 2], base, device="cpu", log=lines.append, workers=1)
    assert "unreadable" in lines[0] and len(fake_training) == 16 + 6


def test_variant_descriptions():
    base = Recipe(epochs=3, batch_size=128, lr=4e-3)
    assert Variant("baseline").describe() == "plain LeNet-5"
    v = Variant("ls", recipe_changes={"label_smoothing": 0.1})
    assert v.recipe(base).label_smoothing == 0.1 and "label_smoothing=0.1" in v.describe()
    with pytest.raises(ValueError, match="variant 'bad'.*label_smoothing"):
        Variant("bad", recipe_changes={"label_smoothing": 2.0}).recipe(base)


def test_bad_variants_fail_before_any_training(fake_training):
    base = Recipe(epochs=1, batch_size=128, lr=4e-3)
    with pytest.raises(ValueError, match="variant 'typo'.*unexpected keyword"):
        run_study([Variant("baseline"), Variant("typo", recipe_changes={"label_smoothin": 0.1})],
                  [0], base, device="cpu", log=None, workers=1)
    with pytest.raises(ValueError, match="variant 'bn'.*bad arguments for lenet5"):
        run_study([Variant("baseline"), Variant("bn", model_kwargs={"batchnorm": True})],
                  [0], base, device="cpu", log=None, workers=1)
    with pytest.raises(ValueError, match="unique; repeated: \\['a'\\]"):
        run_study([Variant("a"), Variant("a", model_kwargs={"dropout": 0.1})], [0], base,
                  device="cpu", log=None, workers=1)
    assert fake_training == []


def test_a_failing_run_stops_the_study_without_training_the_rest(monkeypatch):
    calls = []

    def failing(variant, seed, *args):
        calls.append(seed)
        raise RuntimeError("out of memory")

    monkeypatch.setattr(study, "_run_one", failing)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_study([Variant("baseline")], [0, 1, 2], Recipe(1, 128, 1e-3), device="cpu", log=None, workers=1)
    assert calls == [0]


def test_parallel_runs_give_the_same_results_as_one_at_a_time(data_dir):
    """Two worker processes against one process, one thread each: identical runs."""
    import torch

    threads = torch.get_num_threads()
    base = Recipe(epochs=1, batch_size=256, lr=4e-3)
    variants = [Variant("baseline"), Variant("ls", recipe_changes={"label_smoothing": 0.1})]
    try:
        torch.set_num_threads(1)
        one, _ = run_study(variants, [0], base, device="cpu", log=None, workers=1)
        # Two workers share the parent's thread count: one thread each, on any machine.
        torch.set_num_threads(2)
        two, histories = run_study(variants, [0], base, device="cpu", log=None, workers=2)
    finally:
        torch.set_num_threads(threads)
    assert two[["variant", "seed", "test_acc", "test_loss"]].equals(one[["variant", "seed", "test_acc", "test_loss"]])
    assert set(histories) == {("baseline", 0), ("ls", 0)}
