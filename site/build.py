"""The tutorial as a static site: `python site/build.py` (= `make site`), a script beside
the package that uses it.

Renders the executed notebooks (by default the committed ones in notebooks/, which carry
their outputs) to one HTML page each with nbconvert, figures embedded as data: URIs, and
writes an index.html contents page. Cells tagged `claim` (the asserts that check the
prose) are left out of the pages; links between notebooks point at their pages. Every
link is relative, so the folder can be opened from disk or served from anywhere. A
notebook that did not run to the end (a cell that never ran, or raised) is refused: its
page would show results that its claims never checked.

It also writes draw.html, the drawing page: notebook 08's widget without a kernel. Both
models of notebook 03's runs (in output_dir()/03_training) are exported with
`export.export_onnx` and run in the browser by onnxruntime-web, which npm installs at the
version pinned in site/package-lock.json; only the three files the page needs are copied.
Without npm, network or trained runs, the notebook pages are still written and one line
says why the drawing page is not.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mnist_lib.errors import CheckpointError, ConfigError, MnistLibError
from mnist_lib.paths import notebooks_dir, output_dir, repo_root, shown

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


# onnxruntime-web's ES module for the WebAssembly backend, and the two files it loads.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def _runtime(sources: Path) -> Path:
    """onnxruntime-web's dist/ folder, first installed with `npm ci` (exactly the version
    of package-lock.json) if it is missing or another version."""
    package = sources / "node_modules" / "onnxruntime-web"
    wanted = json.loads((sources / "package.json").read_text())["dependencies"]["onnxruntime-web"]
    installed = package / "package.json"
    complete = all((package / "dist" / name).is_file() for name in ORT_FILES)
    if complete and installed.is_file() and json.loads(installed.read_text())["version"] == wanted:
        return package / "dist"
    npm = shutil.which("npm")
    fix = "install Node.js with npm (https://nodejs.org) and make site again."
    if npm is None:
        raise ConfigError("npm is missing, so onnxruntime-web cannot be installed.", fix)
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=sources, capture_output=True, text=True, timeout=600
        )
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess([], 1, "", "it took over 600 s")
    if done.returncode != 0:
        why = next((line for line in done.stderr.splitlines() if "npm error" in line), "no message")
        raise ConfigError(
            f"`npm ci` could not install onnxruntime-web ({why}).",
            "check that the npm registry can be reached (or copy site/node_modules from a machine "
            "where `npm ci` ran) and make site again.",
        )
    return package / "dist"


def _drawing_page(target: Path) -> bool:
    """Write draw.html, its script, onnxruntime-web and both models into `target`; True if
    written, else False after one line saying why not and what to do."""
    from mnist_lib.export import export_onnx
    from mnist_lib.runs import load_run

    sources = repo_root() / "site"
    folder = output_dir() / "03_training"
    try:
        runtime = _runtime(sources)
        try:
            runs = {name: load_run(folder / name) for name in ("lenet5", "mlp")}
        except CheckpointError:
            raise ConfigError(
                f"no trained models in {shown(folder)}.",
                "run notebook 03 (`python -m mnist_lib tutorial --only 03`) and make site again.",
            ) from None
    except MnistLibError as e:
        print(f"the drawing page (draw.html) was not built: {e}")
        return False
    (target / "models").mkdir(exist_ok=True)
    (target / "ort").mkdir(exist_ok=True)
    for name, run in runs.items():
        export_onnx(run.model, run.resize, target / "models" / f"{name}.onnx")
    for name in ORT_FILES:
        shutil.copyfile(runtime / name, target / "ort" / name)
    for name in ("draw.html", "draw.js"):
        shutil.copyfile(sources / name, target / name)
    size = {d: sum(f.stat().st_size for f in (target / d).iterdir()) for d in ("models", "ort")}
    print(
        f"wrote {shown(target / 'draw.html')}: the models {size['models']:,} bytes, "
        f"onnxruntime-web {size['ort']:,} bytes"
    )
    return True


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


def _nav(here: str, pages: list[tuple[str, str]], drawing: bool = False) -> str:
    """A line of links: contents, previous and next page (and the drawing page)."""
    names = [p for p, _ in pages]
    links = ['<a href="index.html">Contents</a>']
    if drawing:
        links.append('<a href="draw.html">Draw a digit (runs in your browser)</a>')
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
    drawing = _drawing_page(target)

    pages = [(p.with_suffix(".html").name, title_of(nb) or p.stem) for p, nb in read]
    for (_, nb), (page, title) in zip(read, pages):
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        body = NOTEBOOK_HREF.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)
        nav = _nav(page, pages, drawing)
        body = re.sub(r"(<body[^>]*>)", lambda m, nav=nav: m.group(1) + nav, body, count=1)
        (target / page).write_text(body, encoding="utf-8")
        print(f"wrote {shown(target / page)}")

    items = "\n".join(f'<li><a href="{page}">{html.escape(title)}</a></li>' for page, title in pages)
    draw_link = (
        '<p><a href="draw.html">Draw a digit</a>: both models run in the page, no kernel needed.</p>'
        if drawing
        else ""
    )

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
{draw_link}
</body>
</html>
""",
        encoding="utf-8",
    )
    print(f"wrote {shown(target / 'index.html')}: {len(pages)} pages")
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python site/build.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help="default: outputs/site")
    p.add_argument(
        "--notebooks",
        type=Path,
        default=None,
        help="folder of executed notebooks (default: notebooks/, the committed outputs)",
    )
    args = p.parse_args(argv)
    try:
        build(args.notebooks, args.out)
    except MnistLibError as e:  # the package's own errors: one line; anything else is a bug
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
