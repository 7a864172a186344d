"""The headless runner: notebooks in order, failures named."""

from __future__ import annotations

import csv
import json
import sys

import nbformat
import pytest

from mnist_lib import tutorial
from mnist_lib.paths import repo_root


def test_quick_mode_follows_parameter_then_environment(monkeypatch):
    monkeypatch.delenv(tutorial.QUICK_ENV, raising=False)
    assert tutorial.quick_mode() is False and tutorial.quick_mode(True) is True
    monkeypatch.setenv(tutorial.QUICK_ENV, "1")
    assert tutorial.quick_mode() is True


def test_the_notebooks_are_found_in_order():
    assert [nb.name for nb in tutorial.notebooks()] == [
        "01_data_inspection.ipynb",
        "02_architectures_and_parameters.ipynb",
        "03_training.ipynb",
        "04_results_comparison.ipynb",
        "05_regularization.ipynb",
        "06_inside_the_models.ipynb",
        "07_where_the_models_break.ipynb",
        "08_draw_a_digit.ipynb",
        "09_shipping_the_models.ipynb",
    ]


@pytest.fixture
def fake_notebooks(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()

    def write(name, *sources):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
        nb.cells[0].metadata["tags"] = ["parameters"]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / name)

    monkeypatch.setattr(tutorial, "notebooks", lambda: sorted(folder.glob("*.ipynb")))
    return write


def test_a_failing_cell_stops_the_run_and_is_named(fake_notebooks, tmp_path, capsys):
    fake_notebooks("01_ok.ipynb", "OUTPUT_DIR = ''\nQUICK = False", "print('fine')")
    fake_notebooks(
        "02_broken.ipynb", "OUTPUT_DIR = ''\nQUICK = False", "x = 1", "raise ValueError('claim broke')"
    )
    fake_notebooks("03_never.ipynb", "OUTPUT_DIR = ''\nQUICK = False", "print('unreached')")
    assert tutorial.run(tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "02_broken.ipynb failed in cell" in err and "ValueError: claim broke" in err
    assert (tmp_path / "out" / "notebooks" / "01_ok.ipynb").is_file()
    assert not (tmp_path / "out" / "notebooks" / "03_never.ipynb").exists()


def test_a_clean_run_writes_every_executed_notebook(fake_notebooks, tmp_path, capsys):
    fake_notebooks("01_a.ipynb", "OUTPUT_DIR = ''\nQUICK = False", "assert QUICK")
    assert tutorial.run(tmp_path / "out", quick=True) == 0
    executed = nbformat.read(tmp_path / "out" / "notebooks" / "01_a.ipynb", as_version=4)
    assert "QUICK = True" in executed.cells[1].source  # papermill's injected parameters
    assert "the notebook ran in" in capsys.readouterr().out


def test_each_notebook_that_ran_is_timed_in_durations_csv(fake_notebooks, tmp_path):
    fake_notebooks("01_a.ipynb", "OUTPUT_DIR = ''\nQUICK = False", "import time; time.sleep(1.2)")
    fake_notebooks("02_b.ipynb", "OUTPUT_DIR = ''\nQUICK = False", "raise ValueError('stop')")
    assert tutorial.run(tmp_path / "out") == 1
    rows = list(csv.DictReader((tmp_path / "out" / tutorial.DURATIONS).open()))
    assert [r["notebook"] for r in rows] == ["01_a"]  # a failed notebook has no duration
    assert int(rows[0]["seconds"]) >= 1 and rows[0]["machine"].startswith("CPU")


def test_the_kernel_is_this_python_even_when_a_user_kernelspec_shadows_python3(
    fake_notebooks, tmp_path, monkeypatch
):
    # A "python3" kernelspec of the user's (another conda env, say) comes first in
    # Jupyter's search path; `make tutorial` must still run the notebooks in this venv.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "someone else's Python 3",
                "language": "python",
                "env": {"MNIST_WRONG_KERNEL": "1"},
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    fake_notebooks(
        "01_env.ipynb",
        "OUTPUT_DIR = ''\nQUICK = False",
        "import os, sys\n"
        "assert 'MNIST_WRONG_KERNEL' not in os.environ, 'ran in the shadowing kernel'\n"
        f"assert sys.executable == {sys.executable!r}, sys.executable",
    )
    assert tutorial.run(tmp_path / "out") == 0


def test_parameters_are_checked_against_what_the_notebooks_declare(fake_notebooks, tmp_path):
    from mnist_lib.errors import ConfigError

    fake_notebooks(
        "01_a.ipynb", "OUTPUT_DIR: str = ''\nQUICK: bool = False\nSEED: int = 0", "assert SEED == 3"
    )
    fake_notebooks(
        "02_b.ipynb", "OUTPUT_DIR: str = ''", "assert 'SEED' not in dir() and 'QUICK' not in dir()"
    )
    with pytest.raises(ConfigError, match="no selected notebook has the parameter\\(s\\) \\['NOPE'\\]"):
        tutorial.run(tmp_path / "out", parameters={"NOPE": "1"})
    with pytest.raises(ConfigError, match="parameter SEED must be int, got 'x'"):
        tutorial.run(tmp_path / "out", parameters={"SEED": "x"})
    with pytest.raises(ConfigError, match="parameter SEED must be int, got '²'"):
        tutorial.run(tmp_path / "out", parameters={"SEED": "²"})  # a digit to isdigit(), not to int()
    assert not (tmp_path / "out").exists()  # refused before anything ran
    # a notebook gets only the parameters it declares
    assert tutorial.run(tmp_path / "out", parameters={"SEED": "3"}) == 0


INTERRUPTED = """
import sys
from pathlib import Path
from mnist_lib import tutorial
from mnist_lib.cli import main
tutorial.notebooks = lambda: sorted(Path(sys.argv[1]).glob("*.ipynb"))
sys.exit(main(["tutorial", "--out", sys.argv[2]]))
"""


def test_ctrl_c_kills_the_kernel_and_keeps_no_notebook_that_looks_complete(fake_notebooks, tmp_path):
    import os
    import signal
    import subprocess
    import time

    marker = tmp_path / "kernel.pid"
    fake_notebooks(
        "01_slow.ipynb",
        "OUTPUT_DIR = ''\nQUICK = False",
        f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)",
        "assert False, 'the claim cell ran'",
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, str(tmp_path / "notebooks"), str(tmp_path / "out")],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(1200):  # the kernel's start, then the slow cell
            if marker.exists() and marker.read_text():
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        kernel = int(marker.read_text())
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "01_slow.ipynb was interrupted; no executed copy of it was kept" in stderr
    assert list((tmp_path / "out" / "notebooks").iterdir()) == []  # nothing that looks complete
    with pytest.raises(ProcessLookupError):  # the kernel was killed, not left running its cell
        os.kill(kernel, 0)


def executed_notebook(folder, name, *counts):
    """An executed notebook whose code cells have these execution counts (None: never ran)."""
    cells = [nbformat.v4.new_markdown_cell("# A title")]
    for count in counts:
        cells.append(nbformat.v4.new_code_cell("print(1)", execution_count=count))
    folder.mkdir(exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / name)


@pytest.mark.parametrize("kind", ["never ran", "raised", "empty file"])
def test_site_refuses_a_notebook_that_did_not_run_to_the_end(tmp_path, capsys, kind, site_build):
    folder = tmp_path / "executed"
    executed_notebook(folder, "01_a.ipynb", 1, 2)
    if kind == "empty file":
        (folder / "02_b.ipynb").write_bytes(b"")
        expected = "is not a readable notebook"
    else:
        executed_notebook(folder, "02_b.ipynb", 1, None if kind == "never ran" else 2)
        expected = "did not run to the end (cell 2 never ran)"
        if kind == "raised":
            nb = nbformat.read(folder / "02_b.ipynb", as_version=4)
            nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="E", evalue="x", traceback=[])]
            nbformat.write(nb, folder / "02_b.ipynb")
            expected = "did not run to the end (cell 2 raised an error)"
    assert site_build.main(["--notebooks", str(folder), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {folder / '02_b.ipynb'}: {expected}") and "\n" not in err
    assert "Traceback" not in err and not (tmp_path / "site").exists()


def test_the_readme_quotes_the_recorded_durations():
    """The README's table of run times is `results/durations.csv`, as `make tutorial` wrote
    it: one source for how long the notebooks take."""
    recorded = list(csv.DictReader((repo_root() / "results" / tutorial.DURATIONS).open()))
    readme = (repo_root() / "README.md").read_text()
    table = readme.split("<!-- durations -->")[1].split("<!-- /durations -->")[0]
    rows = [line.strip("| ").split(" | ") for line in table.strip().splitlines()[2:]]
    quoted = {name: int(seconds.replace(",", "")) for name, seconds in rows if name != "total"}
    assert quoted == {r["notebook"]: int(r["seconds"]) for r in recorded}
    assert int(dict(rows)["total"].replace(",", "")) == sum(quoted.values())
    assert recorded[0]["machine"] in readme and recorded[0]["date"] in readme
