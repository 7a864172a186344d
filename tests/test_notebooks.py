"""The committed notebooks: executed in order, clean, and readable as a story.

nbval runs them; these checks catch what nbval would silently accept (a misspelt marker
compares an output that should be ignored; an injected cell re-runs other parameters).
"""

from __future__ import annotations

import json
import re

import pytest

from mnist_lib.tutorial import notebooks

MARKERS = {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_CHECK_OUTPUT", "NBVAL_RAISES_EXCEPTION"}
LOCAL_PATH = re.compile(r"/(root|tmp|home|work|Users)/[A-Za-z0-9_.-]+")


@pytest.fixture(params=notebooks(), ids=lambda p: p.name)
def nb(request):
    return json.loads(request.param.read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_executed_once_in_order_at_default_parameters(nb):
    counts = [c["execution_count"] for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1))
    tags = [t for c in nb["cells"] for t in c.get("metadata", {}).get("tags", [])]
    assert tags.count("parameters") == 1 and "injected-parameters" not in tags
    assert "papermill" not in nb["metadata"]


def test_nbval_markers_are_spelled_exactly(nb):
    for cell in code_cells(nb):
        for line in "".join(cell["source"]).splitlines():
            if "NBVAL" in line and line.strip().startswith("#"):
                assert line.strip().lstrip("#").strip() in MARKERS, line


def test_outputs_show_no_warnings_local_paths_or_progress_bars(nb):
    for cell in code_cells(nb):
        for out in cell["outputs"]:
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), out
            assert out["output_type"] != "error", out
            text = json.dumps(out.get("text", "")) + json.dumps(out.get("data", {}).get("text/plain", ""))
            assert not LOCAL_PATH.search(text), text[:200]
            assert "it/s]" not in text and "\\r" not in text


def test_opens_with_its_aim_and_closes_with_takeaways(nb):
    first, last = "".join(nb["cells"][0]["source"]), "".join(nb["cells"][-1]["source"])
    assert first.startswith("# ") and "**Aim.**" in first
    assert "## Takeaways" in last


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_papermill_sees_every_parameter(path):
    """`papermill -p NAME` and `--help-notebook` know only the parameters papermill can
    parse (a comment with "=" in it hides the line); it must see all of them."""
    import ast

    import papermill

    cell = next(c for c in json.loads(path.read_text())["cells"]
                if "parameters" in c.get("metadata", {}).get("tags", []))
    assigned = {node.target.id for node in ast.parse("".join(cell["source"])).body
                if isinstance(node, ast.AnnAssign)}
    assert assigned and set(papermill.inspect_notebook(str(path))) == assigned
