"""The one module that decides every default folder."""

from __future__ import annotations

from pathlib import Path

import mnist_lib
from mnist_lib import paths


def test_default_data_dir_is_repo_data_whatever_the_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.resolve_data_dir() == Path(mnist_lib.__file__).resolve().parents[1] / "data"
    assert paths.repo_root() != tmp_path
    assert paths.resolve_data_dir(tmp_path / "x") == tmp_path / "x"


def test_environment_variable_overrides_data_dir_unless_a_folder_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path))
    assert paths.resolve_data_dir() == paths.resolve_data_dir(None) == tmp_path
    assert paths.resolve_data_dir(tmp_path / "x") == tmp_path / "x"


def test_output_dir_follows_parameter_then_environment_then_default(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.OUTPUT_DIR_ENV, raising=False)
    real_root = paths.repo_root()
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    assert paths.output_dir() == tmp_path / "outputs" and (tmp_path / "outputs").is_dir()
    assert paths.default_run_dir("mlp") == tmp_path / "runs" / "mlp"
    assert paths.notebooks_dir() == tmp_path / "notebooks"
    monkeypatch.setattr(paths, "repo_root", lambda: real_root)
    assert paths.output_dir(str(tmp_path / "p")) == tmp_path / "p" and (tmp_path / "p").is_dir()
    monkeypatch.setenv(paths.OUTPUT_DIR_ENV, str(tmp_path / "env"))
    assert paths.output_dir() == tmp_path / "env"
    assert paths.output_dir(tmp_path / "q") == tmp_path / "q"


def test_shown_is_relative_inside_the_repository_only(tmp_path):
    assert paths.shown(paths.repo_root() / "outputs" / "x.png") == "outputs/x.png"
    assert paths.shown(tmp_path / "y.png") == str((tmp_path / "y.png").resolve())
