"""In a real browser: notebook 08's drawing widget in JupyterLab, and the static site.

Starts JupyterLab headless on 127.0.0.1 over a temporary copy of notebook 08, drives
Chromium with Playwright, runs the notebook, draws a 1 and a 0 with the mouse and reads
both models' answers from the widget. Then builds the site from the committed notebooks
and checks that every page loads with its figures and that no relative link is broken, and
that the drawing page, with onnxruntime-web and no kernel, makes the same MNIST fields and
gets the same probabilities as PyTorch, and reads digits drawn with the mouse.
Screenshots go to output_dir()/browser. Skipped, with the reason, only where no browser
can be had (no /usr/bin/chromium, or no Playwright).
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mnist_lib import draw
from mnist_lib.data import load_split
from mnist_lib.paths import OUTPUT_DIR_ENV, output_dir, repo_root

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("MNIST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOTEBOOK = "08_draw_a_digit.ipynb"
STARTUP_S = 60  # JupyterLab's first start builds its caches
RUN_S = 120  # notebook 08 at its defaults, on a slow CPU


def _playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        pytest.skip(f"no browser driver: playwright does not import ({e})")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _playwright()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = output_dir() / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _offline(page, origin: str) -> None:
    """Let the page reach only `origin`: no CDN, so the test sees what works offline."""
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith((origin, "data:")) else route.abort(),
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, trained_runs) -> Iterator[tuple[str, str]]:
    """JupyterLab serving a temporary folder with a copy of notebook 08 (never the committed
    file: JupyterLab saves what it opens), and the trained runs in that folder's outputs."""
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    shutil.copy(repo_root() / "notebooks" / NOTEBOOK, root / "notebooks" / NOTEBOOK)
    for name, run in trained_runs.items():
        shutil.copytree(run.folder, root / "outputs" / "03_training" / name)
    port, token = _free_port(), secrets.token_hex(16)
    home = root / "jupyter"  # settings and workspaces of this server only
    env = {
        **os.environ,
        OUTPUT_DIR_ENV: str(root / "outputs"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(root / "lab.log", "w")
    # A session of its own, so that the finalizer can stop the server and all it started.
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(root / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield url, token
    finally:
        _stop_lab(server, url, token)
        log.close()


def _stop_lab(server: subprocess.Popen, url: str, token: str) -> None:
    """Shut the kernels down (they run in sessions of their own), then the server's group."""
    try:
        request = urllib.request.Request(f"{url}/api/kernels?token={token}")
        for kernel in json.loads(urllib.request.urlopen(request, timeout=5).read()):
            urllib.request.urlopen(
                urllib.request.Request(f"{url}/api/kernels/{kernel['id']}?token={token}", method="DELETE"),
                timeout=10,
            )
    except OSError:
        pass
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(wait)
            return
        except subprocess.TimeoutExpired:
            pass


def _kernel_idle(url: str, token: str) -> bool:
    sessions = json.loads(urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=5).read())
    return any(s.get("kernel") and s["kernel"].get("execution_state") == "idle" for s in sessions)


def _draw(page, canvas, points: list[tuple[float, float]]) -> None:
    """One stroke through `points`, given in the canvas's own 280x280 pixels."""
    box = canvas.bounding_box()
    scale = box["width"] / 280
    xy = [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for p in xy[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.up()


def test_widget_in_jupyterlab(browser, lab, shots: Path) -> None:
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _offline(page, url)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        _drive_widget(page, url, token, shots)
    except Exception:
        page.screenshot(path=str(shots / "jupyterlab_failure.png"))
        print("browser console errors:", *errors[-20:], sep="\n")
        raise
    finally:
        page.close()


def _drive_widget(page, url: str, token: str, shots: Path) -> None:
    page.goto(f"{url}/lab/tree/notebooks/{NOTEBOOK}?token={token}")
    page.locator(".jp-Notebook").wait_for(timeout=STARTUP_S * 1000)
    # JupyterLab may ask which kernel to start: the notebook's own, python3. Run All only
    # once the server says the notebook's kernel is up and idle.
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    deadline = time.monotonic() + STARTUP_S
    while not _kernel_idle(url, token):
        if accept.count():
            accept.first.click()
        assert time.monotonic() < deadline, "the notebook's kernel did not start"
        page.wait_for_timeout(500)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    widget = page.locator(".mnist-draw")
    widget.wait_for(timeout=RUN_S * 1000)
    # Run All goes on past the widget (the exercise solutions), and the kernel answers the
    # widget's messages once it is idle, as it would for a reader: draw after that. The
    # kernel is idle for a moment between two cells of Run All, too: wait for 3 s of idle.
    deadline = time.monotonic() + RUN_S
    idle_since = None
    while idle_since is None or time.monotonic() - idle_since < 3:
        assert time.monotonic() < deadline, "Run All did not finish"
        if not _kernel_idle(url, token):
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        page.wait_for_timeout(250)
    widget.scroll_into_view_if_needed()
    canvas = widget.locator("canvas")
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0

    answers = {}
    strokes = {
        "1": [(142, 40), (140, 140), (138, 240)],
        "0": [
            (140 + 60 * math.sin(t * math.pi / 12), 140 - 95 * math.cos(t * math.pi / 12)) for t in range(25)
        ],
    }
    for digit, points in strokes.items():
        widget.locator(".mnist-draw-clear").click()
        page.locator(".mnist-draw[data-strokes='0']").wait_for(timeout=10_000)
        _draw(page, canvas, points)
        # The answer for this drawing: the widget says how many strokes it is for.
        page.locator(".mnist-draw[data-strokes='1']").wait_for(timeout=10_000)
        answers[digit] = {m: widget.get_attribute(f"data-top-{m}") for m in ("lenet5", "mlp")}
        widget.screenshot(path=str(shots / f"widget_{digit}.png"))
    assert answers == {"1": {"lenet5": "1", "mlp": "1"}, "0": {"lenet5": "0", "mlp": "0"}}

    # A shift reaches Python and comes back.
    widget.locator(".mnist-draw-shift", has_text="\u2192").click()
    page.locator(".mnist-draw-caption", has_text="shifted 2 right").wait_for(timeout=10_000)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, trained_runs, site_build) -> Iterator[tuple[str, Path]]:
    """The site built from the committed notebooks and the session's trained runs (for the
    drawing page), served over HTTP on 127.0.0.1."""
    folder = site_build.build(None, tmp_path_factory.mktemp("site"))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


def test_site_pages_load_with_figures_and_links(browser, site, shots: Path) -> None:
    import nbformat

    url, folder = site
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    _offline(page, url)
    page.goto(f"{url}/index.html")
    pages = page.eval_on_selector_all("ol.contents a", "as => as.map(a => a.getAttribute('href'))")
    notebooks = sorted((repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert pages == [nb.with_suffix(".html").name for nb in notebooks]
    for name, nb_path in zip(pages, notebooks):
        response = page.goto(f"{url}/{name}", wait_until="load")
        assert response is not None and response.ok, name
        nb = nbformat.read(str(nb_path), as_version=4)
        figures = sum(
            "image/png" in out.get("data", {})
            for cell in nb.cells
            if cell.cell_type == "code"
            for out in cell.get("outputs", [])
            if "claim" not in cell.metadata.get("tags", [])
        )
        images = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => ({src: i.src.slice(0, 22), ok: i.complete && i.naturalWidth > 0}))"
        )
        data_images = [i for i in images if i["src"].startswith("data:")]
        assert len(data_images) >= figures, name
        assert all(i["ok"] for i in images), (name, [i for i in images if not i["ok"]])
        links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
        for href in links:
            if href.startswith(("#", "http:", "https:", "mailto:", "data:")):
                continue
            target = href.split("#")[0]
            assert (folder / target).is_file(), f"{name}: broken link {href}"
            assert page.request.get(f"{url}/{target}").ok, f"{name}: broken link {href}"
        if name.startswith("08"):
            page.screenshot(path=str(shots / "site_08.png"))
        # No claim cell on the site, and no absolute path of this machine.
        text = page.content()
        assert str(repo_root()) not in text, name
    page.close()


DIGITS = 100  # test digits drawn on the page and compared with PyTorch


def test_drawing_page_gives_pytorchs_answers(browser, site, trained_runs, shots: Path) -> None:
    """The page's to_mnist equals draw.to_mnist, its models (onnxruntime-web) give
    PyTorch's probabilities and C1 maps, and digits drawn with the mouse read right."""
    url, folder = site
    if not (folder / "draw.html").is_file():
        pytest.skip("no drawing page: `python site/build.py` says why (npm missing or offline)")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    _offline(page, url)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{url}/draw.html")
        page.locator("body[data-ready='1']").wait_for(timeout=60_000)
        print(f"first prediction {page.locator('body').get_attribute('data-ready-ms')} ms after the request")

        images, _ = load_split("test")
        rng = np.random.default_rng(0)
        index = rng.choice(len(images), DIGITS, replace=False)
        drawings = [
            draw.as_drawing(images[i].numpy(), rng.uniform(5, 11), tuple(rng.uniform(0, 1, 2))) for i in index
        ]
        fields = np.stack([draw.to_mnist(d) for d in drawings])
        # One call for all the drawings, each as base64 bytes: a list of numbers is slow to pass.
        page_fields = page.evaluate(
            """([inks, n]) => inks.map((b64) =>
                mnistField(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)), n, n))""",
            [[base64.b64encode(d.tobytes()).decode() for d in drawings], draw.CANVAS],
        )
        page_fields = np.array(page_fields, dtype=np.uint8).reshape(fields.shape)
        assert (page_fields == fields).all(axis=(1, 2)).sum() == DIGITS

        answers = page.evaluate(
            """async (fields) => {
                const out = [];
                for (const f of fields) out.push(await mnistPredict(f));
                return out.map((a, i) => ({...a, lenet5: {probs: a.lenet5.probs, c1: i < 10 ? Array.from(a.lenet5.c1) : null}}));
            }""",
            fields.reshape(DIGITS, -1).tolist(),
        )
        for name, run in trained_runs.items():
            x = draw.model_input(fields, run.resize)
            expected = draw.probabilities(run.model, x).numpy()
            got = np.array([a[name]["probs"] for a in answers])
            assert (got.argmax(1) == expected.argmax(1)).all(), name
            assert np.abs(got - expected).max() < 1e-4, name
            print(f"{name}: {DIGITS} digits, max probability difference {np.abs(got - expected).max():.1e}")
        c1 = np.array([a["lenet5"]["c1"] for a in answers[:10]]).reshape(10, 6, 28, 28)
        lenet = trained_runs["lenet5"]
        expected_c1 = np.stack(
            [draw.c1_maps(lenet.model, draw.model_input(f, lenet.resize)) for f in fields[:10]]
        )
        assert np.abs(c1 - expected_c1).max() < 1e-4

        canvas = page.locator("#pad")
        strokes = {
            "1": [(142, 40), (140, 140), (138, 240)],
            "0": [
                (140 + 60 * math.sin(t * math.pi / 12), 140 - 95 * math.cos(t * math.pi / 12))
                for t in range(25)
            ],
        }
        read = {}
        for digit, points in strokes.items():
            page.locator("#clear").click()
            page.locator("body[data-strokes='0']").wait_for(timeout=10_000)
            _draw(page, canvas, points)
            page.locator("body[data-strokes='1']").wait_for(timeout=10_000)
            read[digit] = {m: page.locator("body").get_attribute(f"data-top-{m}") for m in ("lenet5", "mlp")}
            page.screenshot(path=str(shots / f"draw_page_{digit}.png"), full_page=True)
        assert read == {"1": {"lenet5": "1", "mlp": "1"}, "0": {"lenet5": "0", "mlp": "0"}}
        page.locator("[data-shift='1,0']").click()
        page.locator("#caption", has_text="shifted 2 right").wait_for(timeout=10_000)
        assert not errors, errors
    except Exception:
        page.screenshot(path=str(shots / "draw_page_failure.png"))
        print("browser console errors:", *errors[-20:], sep="\n")
        raise
    finally:
        page.close()
