"""Running the notebooks headlessly with papermill (`python -m mnist_lib tutorial`), and
the settings they share. A notebook appears under its name in `outputs/notebooks/` only
once it has run to the end or to a failing cell; Ctrl-C kills the running kernel at once
and keeps no executed copy of the notebook it interrupted.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .atomic import atomic_path
from .errors import ConfigError
from .paths import OUTPUT_DIR_ENV, notebooks_dir, output_dir, shown

QUICK_ENV = "MNIST_QUICK"
_kernels: weakref.WeakSet = weakref.WeakSet()  # the kernel managers this process made


def quick_mode(param: bool = False) -> bool:
    """True when the notebook parameter asks for the short mode or `$MNIST_QUICK` is set
    (the test command sets it): fewer seeds and epochs, still real training."""
    return bool(param) or os.environ.get(QUICK_ENV, "").lower() in ("1", "true", "yes")


def notebooks() -> list[Path]:
    """The tutorial's notebooks, in reading order."""
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def normalize_notebook(nb: dict) -> dict:
    """Drop what changes from run to run without meaning anything: papermill's and
    nbclient's timing metadata, empty tag lists, the Python patch version."""
    meta = nb.get("metadata", {})
    meta.pop("papermill", None)
    meta.pop("widgets", None)
    if "language_info" in meta:
        meta["language_info"] = {"name": meta["language_info"].get("name", "python")}
    for cell in nb.get("cells", []):
        cm = cell.get("metadata", {})
        cm.pop("papermill", None)
        cm.pop("execution", None)
        if cm.get("tags") == []:
            cm.pop("tags")
    return nb


def this_python_kernel_manager() -> type:
    """A Jupyter kernel manager that starts the notebooks' kernel with this interpreter.

    Papermill looks the notebooks' kernel, "python3", up on Jupyter's search path, where a
    user's own "python3" kernelspec (another conda environment, say) comes before this
    virtual environment's and would run the notebooks without `mnist_lib` or torch. This is
    what `pytest --nbval-current-env` does for the tests."""
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager
    from traitlets import default

    class ThisPythonSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())

    class ThisPythonKernel(KernelManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _kernels.add(self)  # so that Ctrl-C can reach it (see _signal_kernels)

        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return ThisPythonSpecs(data_dir=self.data_dir)

        @default("transport")
        def _transport_default(self) -> str:
            # Local sockets where there are any: the kernel is not reachable over TCP, and
            # does not warn on every start that it runs over TCP without encryption.
            return "ipc" if os.name == "posix" else "tcp"

        @default("ip")
        def _ip_default(self) -> str:
            # The sockets' path prefix: in the temporary folder, not in notebooks/.
            if self.transport == "ipc":
                return os.path.join(tempfile.gettempdir(), f"mnist-kernel-{os.getpid()}")
            return "127.0.0.1"

    return ThisPythonKernel


def _signal_kernels(signum: int) -> bool:
    """Send `signum` to the kernels this process started and to everything they started
    (jupyter_client gives each its own process group); False if none was running."""
    sent = False
    for km in list(_kernels):
        process = getattr(km.provisioner, "process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signum)
                sent = True
    return sent


@contextlib.contextmanager
def _ctrl_c_interrupts_the_kernel(nb: Path, running: Path) -> Iterator[list]:
    """While a notebook runs, Ctrl-C interrupts its kernel: the running cell stops with
    KeyboardInterrupt and papermill stops there. The kernel otherwise runs in a process
    group of its own, out of the terminal's reach, and goes on with its cell for minutes.
    If the run has not ended 10 s later (a cell deaf to the interrupt), the kernel is
    killed and this process exits. Yields a list that is not empty once Ctrl-C came."""
    pressed: list[threading.Timer] = []
    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        yield pressed
        return

    def give_up() -> None:
        _signal_kernels(signal.SIGKILL)
        running.unlink(missing_ok=True)
        _not_kept(nb)
        os._exit(130)

    def on_ctrl_c(signum: int, frame: Any) -> None:
        if not pressed:
            pressed.append(threading.Timer(10.0, give_up))
            pressed[0].daemon = True
            pressed[0].start()
        if not _signal_kernels(signal.SIGINT):
            raise KeyboardInterrupt  # no kernel yet: nothing is running a cell

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
        for timer in pressed:
            timer.cancel()


def _execute(nb: Path, target: Path, parameters: dict[str, Any] | None = None) -> dict:
    """Run notebook `nb` in its own folder with this interpreter's kernel, writing to `target`."""
    import papermill

    return papermill.execute_notebook(
        str(nb),
        str(target),
        parameters=parameters,
        cwd=str(nb.parent),
        progress_bar=False,
        kernel_name="python3",
        kernel_manager_class=this_python_kernel_manager(),
    )


def _not_kept(nb: Path) -> None:
    print(f"\n{nb.name} was interrupted; no executed copy of it was kept.", file=sys.stderr, flush=True)


def refresh(only: list[str] | None = None) -> int:
    """Execute notebooks at their default parameters and write them back, normalized: the
    committed outputs. Uses the default outputs/ folder and the full settings, whatever
    the environment says."""
    import nbformat

    for name in (OUTPUT_DIR_ENV, QUICK_ENV):  # the kernels inherit the environment
        os.environ.pop(name, None)
    for nb_path in notebooks():
        if only and not any(nb_path.name.startswith(o) for o in only):
            continue
        start = time.perf_counter()
        print(f"refreshing {nb_path.name} ...", flush=True)
        tmp = nb_path.with_name(f".{nb_path.stem}.tmp.ipynb")
        try:
            # No parameters: papermill adds no injected cell, so nbval re-runs exactly this.
            executed = _execute(nb_path, tmp)
        finally:
            tmp.unlink(missing_ok=True)
        with atomic_path(nb_path) as target:
            nbformat.write(nbformat.from_dict(normalize_notebook(executed)), str(target))
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def _convert(name: str, text: str, type_name: str) -> Any:
    """A parameter's value from the command line, as the type its notebook declares."""
    if "None" in type_name and text.lower() == "none":
        return None
    wrong_type = ConfigError(f"parameter {name} must be {type_name}, got {text!r}")
    if "bool" in type_name:
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise wrong_type
        return text.lower() in ("true", "1", "yes")
    if "int" in type_name:
        if not text.strip().lstrip("+-").isdecimal():
            raise wrong_type
        value = int(text)
        if not 0 <= value < 2**63:  # what seeds, epochs and counts can be
            raise ConfigError(f"parameter {name} must be an integer from 0 to 2**63 - 1, got {text!r}")
        return value
    if "float" in type_name:
        try:
            return float(text)
        except ValueError:
            raise wrong_type from None
    return text


def resolve_parameters(
    selected: list[Path], given: dict[str, str], base: dict[str, Any] | None = None
) -> dict[Path, dict[str, Any]]:
    """Each selected notebook's share of `base` (NAME -> value, e.g. OUTPUT_DIR) and of
    `given` (NAME -> text, converted to the parameter's type; it wins over `base`).

    A name in `given` that none of the selected notebooks declares is an error (papermill
    alone only warns, and the notebook would run with its default: a claim checked for the
    wrong settings). A notebook gets only the parameters it declares, so no notebook must
    declare one that does nothing for it."""
    import papermill

    declared = {nb: papermill.inspect_notebook(str(nb)) for nb in selected}  # name -> type, default, help
    unknown = sorted(n for n in given if not any(n in d for d in declared.values()))
    if unknown:
        names = sorted({n for d in declared.values() for n in d})
        raise ConfigError(
            f"no selected notebook has the parameter(s) {unknown}",
            f"use some of {names} (`papermill --help-notebook NOTEBOOK` lists them).",
        )
    return {
        nb: {n: v for n, v in (base or {}).items() if n in d}
        | {n: _convert(n, v, d[n]["inferred_type_name"]) for n, v in given.items() if n in d}
        for nb, d in declared.items()
    }


DURATIONS = "durations.csv"


def write_durations(path: Path, rows: list[dict[str, Any]]) -> None:
    """Record how long each notebook took, and on what (rewritten after each notebook)."""
    from .train import device_description, select_device

    machine = device_description(select_device())
    day = time.strftime("%Y-%m-%d")
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["notebook", "seconds", "machine", "date"])
        writer.writeheader()
        writer.writerows({**row, "machine": machine, "date": day} for row in rows)


def _run_one(nb: Path, executed: Path, parameters: dict[str, Any]) -> bool:
    """Run one notebook into `executed`/NAME; False, having said why, if it failed."""
    from papermill.exceptions import PapermillExecutionError

    # Papermill writes as it goes, and marks every cell "completed" even when Ctrl-C
    # stopped it: the notebook gets its name only once it ran to the end or failed.
    running = executed / f".{nb.stem}.running.ipynb"
    try:
        with _ctrl_c_interrupts_the_kernel(nb, running) as interrupted:
            _execute(nb, running, parameters)
    except PapermillExecutionError as e:
        if interrupted:
            running.unlink(missing_ok=True)
            _not_kept(nb)
            raise KeyboardInterrupt from None
        os.replace(running, executed / nb.name)
        print(
            f"\n{nb.name} failed in cell {e.cell_index} (execution count {e.exec_count}): "
            f"{e.ename}: {e.evalue}\nThe executed notebook, with the error, is "
            f"{shown(executed / nb.name)}",
            file=sys.stderr,
        )
        return False
    except Exception as e:  # a dead kernel, a timeout, no kernel at all
        running.unlink(missing_ok=True)
        print(f"\n{nb.name} could not be run: {type(e).__name__}: {e}", file=sys.stderr)
        return False
    except KeyboardInterrupt:
        _signal_kernels(signal.SIGKILL)
        running.unlink(missing_ok=True)
        _not_kept(nb)
        raise
    os.replace(running, executed / nb.name)
    return True


def run(
    out: Path, quick: bool = False, only: list[str] | None = None, parameters: dict[str, str] | None = None
) -> int:
    """Execute the notebooks in order; return 0, or 1 at the first failure."""
    selected = [nb for nb in notebooks() if not only or any(nb.name.startswith(o) for o in only)]
    if not selected:
        raise ConfigError(
            f"no notebook matches {only}", f"give prefixes of {[nb.name for nb in notebooks()]}."
        )
    out = out.resolve()  # the kernels run in notebooks/: a relative path would land there
    given = resolve_parameters(selected, parameters or {}, {"OUTPUT_DIR": str(out), "QUICK": quick})
    executed = out / "notebooks"
    output_dir(executed)  # made, or a clear error where it cannot be
    total = time.perf_counter()
    durations: list[dict[str, Any]] = []
    for nb in selected:
        start = time.perf_counter()
        print(f"running {nb.name} ...", flush=True)
        if not _run_one(nb, executed, given[nb]):
            return 1
        durations.append({"notebook": nb.stem, "seconds": round(time.perf_counter() - start)})
        write_durations(out / DURATIONS, durations)
        print(f"  done in {durations[-1]['seconds']} s -> {shown(executed / nb.name)}", flush=True)
    ran = "the notebook ran" if len(selected) == 1 else f"all {len(selected)} notebooks ran"
    print(f"{ran} in {time.perf_counter() - total:.0f} s; figures and results are in {shown(out)}")
    return 0
