"""The tutorial as a static site: `python -m mnist_lib site`.

Renders the executed notebooks (by default the committed ones in notebooks/, which carry
their outputs) to one HTML page each with nbconvert, figures embedded as data: URIs, and
writes an index.html contents page. Cells tagged `claim` (the asserts that check the
prose) are left out of the pages; links between notebooks point at their pages. Every
link is relative, so the folder can be opened from disk or served from anywhere. A
notebook that did not run to the end (a cell that never ran, or raised) is refused: its
page would show results that its claims never checked.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from .errors import ConfigError
from .paths import notebooks_dir, output_dir, shown

REMOVED_TAGS = {"claim"}
# A relative link to a notebook, in an href: made to point at its page. Links with a
# scheme (https:, data:) or an absolute path are left alone.
NOTEBOOK_HREF = re.compile(r'href="(?![a-zA-Z][a-zA-Z0-9+.-]*:|/)([^"#?]*?)\.ipynb([#?][^"]*)?"')


def title_of(nb: dict) -> str:
    """A notebook's first Markdown heading, without the #s (its file name if it has none)."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def unfinished(nb: dict) -> str | None:
    """Why an executed notebook did not run to the end, or None if it did."""
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code" or not "".join(cell.get("source", "")).strip():
            continue
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return f"cell {i} raised an error"
        if cell.get("execution_count") is None:
            return f"cell {i} never ran"
    return None


def _read(path: Path) -> dict:
    import nbformat

    fix = "run `python -m mnist_lib tutorial` to the end, or give --notebooks a folder of finished notebooks."
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:  # empty, cut short, not JSON, not a notebook
        raise ConfigError(f"is not a readable notebook ({type(e).__name__})", fix, path) from None
    why = unfinished(nb)
    if why:
        raise ConfigError(f"did not run to the end ({why}); no site was written", fix, path)
    return nb


def _exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = REMOVED_TAGS
    config.HTMLExporter.preprocessors = ["nbconvert.preprocessors.TagRemovePreprocessor"]
    exporter = HTMLExporter(config=config, template_name="lab")
    exporter.embed_images = True  # Markdown images too, not only cell outputs
    return exporter


def _nav(here: str, pages: list[tuple[str, str]]) -> str:
    """A line of links: contents, previous and next page."""
    names = [p for p, _ in pages]
    links = ['<a href="index.html">Contents</a>']
    i = names.index(here)
    if i > 0:
        links.append(f'<a href="{names[i - 1]}">&larr; {html.escape(pages[i - 1][1])}</a>')
    if i + 1 < len(pages):
        links.append(f'<a href="{names[i + 1]}">{html.escape(pages[i + 1][1])} &rarr;</a>')
    return (
        '<nav class="site-nav" style="font-family: sans-serif; padding: 8px 16px; '
        'border-bottom: 1px solid #ddd;">' + " &middot; ".join(links) + "</nav>"
    )


def _read_all(source: Path) -> list[tuple[Path, dict]]:
    """Every `NN_*.ipynb` in `source`, each checked to have run to the end."""
    paths = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ConfigError(
            f"no notebooks (NN_name.ipynb) in {shown(source)}",
            "give the folder of executed notebooks with --notebooks.",
        )
    return [(p, _read(p)) for p in paths]


def build(notebooks: str | os.PathLike[str] | None = None, out: str | os.PathLike[str] | None = None) -> Path:
    """Render every `NN_*.ipynb` in `notebooks` (default: the repository's notebooks/) into
    the folder `out` (default: outputs/site), with index.html; return `out`."""

    new = not (Path(out) if out else output_dir() / "site").exists()
    target = output_dir(out) if out else output_dir() / "site"  # an unwritable --out fails first
    target.mkdir(exist_ok=True)
    try:
        read = _read_all(Path(notebooks) if notebooks else notebooks_dir())
    except ConfigError:
        if new:  # a refused build leaves no empty site folder behind
            target.rmdir()
        raise
    exporter = _exporter()

    pages = [(p.with_suffix(".html").name, title_of(nb) or p.stem) for p, nb in read]
    for (_, nb), (page, title) in zip(read, pages):
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        body = NOTEBOOK_HREF.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)
        nav = _nav(page, pages)
        body = re.sub(r"(<body[^>]*>)", lambda m, nav=nav: m.group(1) + nav, body, count=1)
        (target / page).write_text(body, encoding="utf-8")
        print(f"wrote {shown(target / page)}")

    items = "\n".join(f'<li><a href="{page}">{html.escape(title)}</a></li>' for page, title in pages)
    (target / "index.html").write_text(
        f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>MNIST: LeNet-5 and a parameter-matched MLP</title>
<style>body {{ font-family: sans-serif; max-width: 720px; margin: 40px auto; line-height: 1.6; }}</style>
</head>
<body>
<h1>MNIST: LeNet-5 and a parameter-matched MLP</h1>
<p>The tutorial's notebooks, executed, in reading order.</p>
<ol class="contents">
{items}
</ol>
</body>
</html>
""",
        encoding="utf-8",
    )
    print(f"wrote {shown(target / 'index.html')}: {len(pages)} pages")
    return target
