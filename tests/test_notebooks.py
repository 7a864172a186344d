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


def is_solution(cell) -> bool:
    return "solution" in cell.get("metadata", {}).get("tags", [])


def test_opens_with_its_aim_and_closes_with_takeaways_exercises_and_solutions(nb):
    """The last markdown cell holds the takeaways and exercises; only the exercises'
    solutions may follow it: code cells tagged `solution`, collapsed (code and output) so
    that a learner opens them after trying, and run by nbval like every other cell so that they cannot rot."""
    cells = nb["cells"]
    first = "".join(cells[0]["source"])
    assert first.startswith("# ") and "**Aim.**" in first and "**Assumes.**" in first
    last_text = max(i for i, c in enumerate(cells) if c["cell_type"] == "markdown")
    text = "".join(cells[last_text]["source"])
    assert "## Takeaways" in text and "## Exercises" in text
    for cell in cells[last_text + 1 :]:
        assert cell["cell_type"] == "code" and is_solution(cell), "".join(cell["source"])[:80]
        hidden = cell["metadata"].get("jupyter", {})
        assert (
            hidden.get("source_hidden") is True and hidden.get("outputs_hidden") is True
        )  # no answer in view
    assert not any(is_solution(c) for c in cells[:last_text]), "a solution before the exercises"


def test_claims_sit_in_their_own_collapsed_cells(nb):
    """Assert cells are tagged `claim` (the site leaves them out) and collapsed in
    JupyterLab; they hold asserts, not the code being taught."""
    for cell in code_cells(nb):
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if "claim" in tags:
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, source[:80]
            assert "assert" in source, source[:80]
        elif "claims.record(" in source:  # the record for make check-claims: plumbing, collapsed
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, source[:80]
        elif "parameters" not in tags:
            asserts = [line for line in source.splitlines() if line.strip().startswith("assert ")]
            assert not asserts, f"an assert outside a claim cell: {asserts[0]}"


def test_words_a_learner_can_follow(nb):
    """ "seed" is the random seed only; the course document is "the course write-up"."""
    text = " ".join("".join(c["source"]) for c in nb["cells"]).lower()
    for phrase in ("the seed's", "the seed resizes", "seed's check", "the brief", "course brief"):
        assert phrase not in text, phrase


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_papermill_sees_every_parameter(path):
    """`papermill -p NAME` and `--help-notebook` know only the parameters papermill can
    parse (a comment with "=" in it hides the line); it must see all of them."""
    import ast

    import papermill

    cell = next(
        c
        for c in json.loads(path.read_text())["cells"]
        if "parameters" in c.get("metadata", {}).get("tags", [])
    )
    assigned = {
        node.target.id for node in ast.parse("".join(cell["source"])).body if isinstance(node, ast.AnnAssign)
    }
    assert assigned and set(papermill.inspect_notebook(str(path))) == assigned


def test_notebook_03_defaults_are_the_recipes_it_claims_for():
    """Its floors are claims about DEFAULT_RECIPES; its parameters must not drift from them."""
    import papermill

    from mnist_lib.train import DEFAULT_RECIPES

    path = next(p for p in notebooks() if p.name.startswith("03_"))
    declared = papermill.inspect_notebook(str(path))
    assert int(declared["LENET5_EPOCHS"]["default"]) == DEFAULT_RECIPES["lenet5"].epochs
    assert int(declared["MLP_EPOCHS"]["default"]) == DEFAULT_RECIPES["mlp"].epochs


def test_notebook_09_quotes_lines_that_site_draw_js_still_has():
    """Notebook 09 shows the drawing page's onnxruntime-web calls as quoted lines: if the page
    changes them, the quote must change too."""
    from mnist_lib.paths import repo_root

    path = next(p for p in notebooks() if p.name.startswith("09_"))
    prose = "\n".join(
        "".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"
    )
    quoted = [
        line.strip() for block in re.findall(r"```js\n(.*?)```", prose, re.S) for line in block.splitlines()
    ]
    page = {line.strip() for line in (repo_root() / "site" / "draw.js").read_text().splitlines()}
    assert quoted and [line for line in quoted if line not in page] == []
