"""Prose the page proves: every number in a notebook's markdown is on the page.

A number in a markdown cell must be one of:
(a) printed by a code cell of this run (any text output: print, a table, a figure's repr),
    or written in the code on the page (a recipe's batch size, a layer's width);
(b) a bound in a claim cell (an `assert` tagged `claim`): also code on the page;
(c) a cited constant, listed in the markdown cell's metadata as `"cited": {"1998": "LeCun
    et al., Proc. IEEE"}`, with where it comes from.
A percentage matches its fraction too (99% and 0.99). Single digits, notebook numbers
(01-09), names such as C1 or LeNet-5, and link targets are not counted as numbers.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from mnist_lib.tutorial import notebooks

# A number in prose: digits with thousands commas or a decimal point, optionally a unit
# glued to it; not part of a word (C1, LeNet-5, 03_training, 1st) or of a link.
PROSE_NUMBER = re.compile(r"(?<![\w.])(?<!\w-)(\d(?:[\d,.]*\d)?)(?:%|x|×|s|ms|px|°|[kKMG]B|min)?(?![\w])")
PAGE_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
LINK_TARGET = re.compile(r"\]\([^)]*\)|<?https?://\S+")
TAG = re.compile(r"<[^>]+>")


def _value(token: str) -> float | None:
    token = token.replace(",", "")
    try:
        return float(token)
    except ValueError:
        return None


def prose_numbers(markdown: str) -> list[str]:
    """The numbers a reader sees in a markdown cell's text, as written."""
    found = []
    for m in PROSE_NUMBER.finditer(LINK_TARGET.sub("", markdown)):
        token = m.group(1).rstrip(".,")
        if re.fullmatch(r"\d", token) or re.fullmatch(r"0\d", token):
            continue  # single digits and notebook numbers
        if "," in token and not re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", token):
            found += [t for t in token.split(",") if len(t) > 1]  # "0,1,2"-like lists
            continue
        found.append(token)
    return found


def page_text(nb: dict) -> str:
    """Everything on the page that is not prose: code and every text output."""
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        parts.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append("".join(out["text"]))
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/"):
                    text = "".join(value) if isinstance(value, list) else value
                    parts.append(html.unescape(TAG.sub(" ", text)) if mime == "text/html" else text)
    return "\n".join(parts)


def unproved_numbers(nb: dict) -> list[str]:
    """The prose numbers that are neither on the page nor cited, with their cell."""
    text = page_text(nb)
    values = {v for t in PAGE_NUMBER.findall(text) if (v := _value(t)) is not None}
    missing = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        cited = cell.get("metadata", {}).get("cited", {})
        for token in prose_numbers("".join(cell["source"])):
            if token in cited:
                continue
            if token.count(".") > 1:  # a version such as 2.14.1: literally on the page
                if token not in text:
                    missing.append(f"cell {index}: {token}")
                continue
            v = _value(token)
            candidates = (v, v / 100, v * 100)
            if not any(abs(c - p) <= 1e-9 * max(1.0, abs(p)) for c in candidates for p in values):
                missing.append(f"cell {index}: {token}")
    return missing


def test_checker_finds_a_number_the_page_does_not_show():
    def notebook(prose: str, printed: str, cited: dict | None = None) -> dict:
        md = {"cell_type": "markdown", "source": [prose], "metadata": {"cited": cited or {}}}
        code = {
            "cell_type": "code",
            "source": ["print(acc)"],
            "metadata": {},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": [printed]}],
        }
        return {"cells": [md, code]}

    assert unproved_numbers(notebook("LeNet-5 reaches 99.24% in 3 epochs.", "acc 99.24")) == []
    assert unproved_numbers(notebook("It reaches 99% (see C1, notebook 03).", "acc 0.99")) == []
    assert unproved_numbers(notebook("It reaches 99.3%.", "acc 99.24")) == ["cell 0: 99.3"]
    assert unproved_numbers(notebook("About 61,706 weights.", "61706")) == []
    assert unproved_numbers(notebook("Published in 1998.", "")) == ["cell 0: 1998"]
    assert unproved_numbers(notebook("Published in 1998.", "", {"1998": "LeCun et al."})) == []
    assert unproved_numbers(notebook("torch 2.14.1 [docs](https://x.org/v2.13)", "2.14.1")) == []


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_every_prose_number_is_on_the_page_or_cited(path: Path):
    nb = json.loads(path.read_text())
    assert unproved_numbers(nb) == [], "numbers in the prose that no cell prints, no claim bounds, none cites"
