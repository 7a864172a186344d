"""The GPU check: `python benchmarks/gpu_check.py` (= `make gpu-check`) on a machine with CUDA.

Three steps, each timed, on the GPU that `select_device("auto")` picks:

1. the test suite (`pytest --nbval`, the README's test command), every notebook included;
2. notebook 03 at its defaults (both models trained, both floors asserted);
3. the speed benchmark (`benchmarks/bench.py --device cuda`), including the cold runs to
   99% test accuracy.

It also times CUDA's start-up alone in a fresh process (import torch, first tensor on the
GPU), so that the cold time to 99% is given with and without it. Everything goes to one
JSON, outputs/gpu-check/gpu_check.json: the GPU's name, each step's seconds and exit code,
both models' test accuracy from notebook 03, epoch times and time to 99% from the benchmark.
Without CUDA it stops at once with one line saying so; `--device cpu` rehearses the same
steps on the CPU (slowly), to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CUDA_START = "import time, torch; t = time.time(); torch.zeros(1, device='cuda'); torch.cuda.synchronize(); print(time.time() - t)"


def step(name: str, command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `command` from the repository root; its output streams through; return the time and exit code."""
    print(f"\n== {name}: {' '.join(command)}", flush=True)
    start = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    seconds = round(time.perf_counter() - start, 1)
    print(f"== {name}: exit code {code} after {seconds} s", flush=True)
    return {"command": " ".join(command), "exit_code": code, "seconds": seconds}


def cuda_start_seconds() -> tuple[float, float]:
    """Seconds for a fresh process to start and put a first tensor on the GPU, and of that
    the seconds from `import torch` done to the tensor (CUDA's own start-up)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CUDA_START], capture_output=True, text=True, check=True)
    return round(time.perf_counter() - start, 2), round(float(done.stdout.strip()), 2)


def notebook_03_figures(out: Path) -> dict[str, Any]:
    """The figures notebook 03 recorded in its output folder (`mnist_lib.claims.record`)."""
    records = sorted(out.rglob("claims.json"))
    return json.loads(records[-1].read_text()) if records else {}


def main(device: str) -> int:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        print(
            "error: no CUDA GPU is visible to PyTorch here (torch.cuda.is_available() is False); "
            "run this on a machine with an NVIDIA GPU, or with --device cpu to rehearse it on the CPU.",
            file=sys.stderr,
        )
        return 2
    out = ROOT / "outputs" / "gpu-check"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MNIST_OUTPUT_DIR=str(out / "outputs"))
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # `auto` then picks the CPU everywhere, tests included
    python = sys.executable
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    if device == "cuda":
        process_s, init_s = cuda_start_seconds()
        results["cuda_start_up_s"] = {
            "process_with_first_tensor": process_s,
            "first_tensor_after_import": init_s,
        }
    results["steps"] = {
        "tests": step("the test suite", [python, "-m", "pytest", "--nbval", "-q"], env),
        "notebook_03": step(
            "notebook 03",
            [python, "-m", "mnist_lib", "tutorial", "--only", "03", "--out", str(out / "notebook-03")],
            env,
        ),
        "bench": step(
            "the benchmark",
            [python, "benchmarks/bench.py", "--device", device, "--out", str(out / "bench")],
            env,
        ),
    }
    results["notebook_03"] = notebook_03_figures(out / "notebook-03")
    bench = out / "bench" / "bench.json"
    if bench.is_file():
        figures = json.loads(bench.read_text())
        results["epoch_seconds"] = figures.get("epoch")
        results["time_to_accuracy"] = figures.get("time_to_accuracy")
        if "cuda_start_up_s" in results:  # the cold runs' times include CUDA's start-up
            start_up = results["cuda_start_up_s"]["first_tensor_after_import"]
            for model in figures.get("time_to_accuracy", {}).values():
                for run in model["runs"].values():
                    if run.get("reached"):
                        run["reached"]["seconds_without_cuda_start_up"] = round(
                            run["reached"]["seconds"] - start_up, 2
                        )
    results["total_s"] = round(sum(s["seconds"] for s in results["steps"].values()), 1)
    path = out / "gpu_check.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}; total {results['total_s']} s")
    return max(s["exit_code"] for s in results["steps"].values())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--device", choices=["cuda", "cpu"], default="cuda", help="cuda (default), or cpu to rehearse"
    )
    sys.exit(main(parser.parse_args().device))
