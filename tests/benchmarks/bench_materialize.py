"""Benchmark: whole ``assetflow`` processes on the synthetic graph of ARCHITECTURE section 8.

N assets in layers of width sqrt(N); each depends on 1-3 assets of the layer
before and returns the int sum of its inputs + 1. One real module per layer.
Every figure is the median of several runs of a whole process (start-up,
imports, loading, fingerprinting, planning, running, recording).

Usage:
    python tests/benchmarks/bench_materialize.py [--sizes 1000 10000] [--repeat 5]

The figures go to stdout as a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def generate(root: Path, n: int, seed: int = 0) -> None:
    """Write the synthetic project of ``n`` assets under ``root``."""
    rng = random.Random(seed)
    width = max(1, round(math.sqrt(n)))
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    previous: list[str] = []
    made = 0
    layer = 0
    while made < n:
        names = [f"a{layer}_{i}" for i in range(min(width, n - made))]
        lines = ["from assetflow import asset", ""]
        for name in names:
            ups = rng.sample(previous, rng.randint(1, min(3, len(previous)))) if previous else []
            body = " + ".join(ups) if ups else "0"
            lines += ["", "@asset", f"def {name}({', '.join(ups)}):", f"    return {body} + 1", ""]
        (root / "assets" / f"layer_{layer:04d}.py").write_text("\n".join(lines))
        previous = names
        made += len(names)
        layer += 1


def _env() -> dict[str, str]:
    # Python's default: bytecode is cached. Some CI images turn that off, which
    # would time the compiler, not assetflow.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {k: v for k, v in env.items() if not k.startswith("ASSETFLOW_")}


def _time(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=_env())
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr}")
    return elapsed


def measure(n: int, repeat: int, exe: list[str]) -> tuple[float, float]:
    """Median seconds of a full run on empty state, and of a no-op run."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / f"graph_{n}"
        generate(root, n)
        full, noop = [], []
        for _ in range(repeat):
            shutil.rmtree(root / ".assetflow", ignore_errors=True)
            full.append(_time([*exe, "materialize"], root))
            noop.append(_time([*exe, "materialize"], root))
        return statistics.median(full), statistics.median(noop)


def measure_template(repeat: int, exe: list[str]) -> tuple[float, float]:
    """Median seconds of ``assetflow --help`` and of ``status`` on the materialized template."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "shop"
        shutil.copytree(REPO / "project_template", root)
        _time([*exe, "materialize"], root)
        helps = [_time([*exe, "--help"], root) for _ in range(repeat)]
        statuses = [_time([*exe, "status"], root) for _ in range(repeat)]
        return statistics.median(helps), statistics.median(statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    exe = [str(Path(sys.executable).parent / "assetflow")]
    print("| measurement | median (s) | target (s) |")
    print("| --- | --- | --- |")
    targets = {1000: (0.6, 0.4), 10000: (4.0, 1.5)}
    for n in args.sizes:
        full, noop = measure(n, args.repeat, exe)
        t_full, t_noop = targets.get(n, (float("nan"), float("nan")))
        print(f"| N={n} full materialize, cold state | {full:.3f} | {t_full} |", flush=True)
        print(f"| N={n} no-op materialize | {noop:.3f} | {t_noop} |", flush=True)
    helps, statuses = measure_template(args.repeat, exe)
    print(f"| `assetflow --help` | {helps:.3f} | 0.15 |")
    print(f"| `assetflow status` on the template | {statuses:.3f} | 0.4 |")
    # The machines are shared: this row calibrates the others across runs.
    baseline = [_time([sys.executable, "-c", "import duckdb"], REPO) for _ in range(args.repeat)]
    print(f"| reference: `python -c 'import duckdb'` | {statistics.median(baseline):.3f} | - |")


if __name__ == "__main__":
    main()
