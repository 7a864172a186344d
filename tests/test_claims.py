"""claims: each run's figures recorded beside it, gathered into one table per notebook."""

from __future__ import annotations

import json

import pytest

from mnist_lib import claims


@pytest.fixture
def results(tmp_path, monkeypatch):
    path = tmp_path / "results" / "claims.csv"
    monkeypatch.setattr(claims, "results_file", lambda: path)
    return path


def test_records_are_gathered_and_a_newer_run_replaces_the_older(tmp_path, results):
    runs = tmp_path / "outputs"
    claims.record(runs / "seed-0" / "03", "03_training", seed=0, lenet5_test_acc=99.25)
    claims.record(runs / "seed-1" / "03", "03_training", seed=1, lenet5_test_acc=99.1)
    claims.record(runs / "seed-1" / "06", "06_inside", seed=1, rotation_gap=4.0)
    row = json.loads((runs / "seed-0" / "03" / claims.RECORD_FILE).read_text())
    assert row["kernels"] == claims.kernels() and row["lenet5_test_acc"] == 99.25

    claims.gather(runs)
    table = claims.recorded("03_training")
    assert list(table["seed"]) == [0, 1] and "rotation_gap" not in table.columns

    claims.record(runs / "seed-1" / "03", "03_training", seed=1, lenet5_test_acc=98.9)
    claims.gather(runs / "seed-1")
    assert list(claims.recorded("03_training")["lenet5_test_acc"]) == [99.25, 98.9]
    assert len(claims.recorded("06_inside")) == 1


def test_nothing_recorded_is_an_empty_table(results):
    assert claims.recorded("03_training").empty
