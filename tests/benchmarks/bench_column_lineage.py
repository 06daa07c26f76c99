"""Benchmark: column lineage of a synthetic project of SQL assets, in whole processes.

The project has a few Python base assets of 12-20 columns, whose schemas are
given as if recorded, and N SQL assets in layers of width sqrt(N). Each SQL
asset reads one or two assets of the layers before through one of four
shapes: a chain of CTEs with stars and a filter, a USING join with a
qualified star, an aggregate with GROUP BY ALL, and a star with EXCLUDE, a
CASE and a window. No SQL asset has a recorded schema, so each one's columns
are inferred from its upstreams' lineage.

Each figure is the median of several runs of a fresh process that imports
assetflow, loads the project, and computes ``project_column_lineage`` for
every SQL asset (sqlglot's import included).

Usage:
    python tests/benchmarks/bench_column_lineage.py [--sizes 100] [--repeat 7]

The figures go to stdout as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASES = {"base_orders": 12, "base_customers": 16, "base_events": 20}

# Runs in the measured process: load, lineage, and a summary on stdout.
_MEASURED = """
import json, sys, time
from assetflow.api import load
from assetflow.column_lineage import project_column_lineage

schemas = json.loads(sys.argv[1])
start = time.perf_counter()
graph = load(".").graph
loaded = time.perf_counter()
result = project_column_lineage(graph, schemas)
done = time.perf_counter()
print(json.dumps({
    "assets": len(result),
    "resolved": sum(1 for r in result.values() if r.columns and not r.unresolved),
    "edges": sum(len(r.edges) for r in result.values()),
    "load": loaded - start,
    "lineage": done - loaded,
}))
"""


def base_schemas() -> dict[str, list[tuple[str, str]]]:
    """The recorded schemas of the Python base assets: ``id``, then ``c1``..``cN``."""
    return {
        name: [("id", "INTEGER")] + [(f"c{i}", "DOUBLE") for i in range(1, width)]
        for name, width in BASES.items()
    }


def generate(root: Path, n: int, seed: int = 0) -> None:
    """Write the synthetic project of ``n`` SQL assets (plus the base assets) under ``root``."""
    rng = random.Random(seed)
    assets = root / "assets"
    assets.mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    base_lines = ["from assetflow import asset", ""]
    for name in BASES:
        base_lines += ["", "@asset", f"def {name}():", "    return None", ""]
    (assets / "bases.py").write_text("\n".join(base_lines))
    width = max(1, round(math.sqrt(n)))
    earlier = list(BASES)
    layer_names: list[str] = []
    for i in range(n):
        name = f"s{i:04d}"
        shape = _SHAPES[i % len(_SHAPES)]
        ups = rng.sample(earlier, min(len(earlier), 2))
        (assets / f"{name}.sql").write_text(shape(name, ups, rng) + "\n")
        layer_names.append(name)
        if len(layer_names) == width:
            earlier += layer_names
            layer_names = []


def _cte_chain(name: str, ups: list[str], rng: random.Random) -> str:
    c = f"c{rng.randint(1, 10)}"
    return (
        f"WITH f AS (SELECT * FROM {ups[0]} WHERE {c} IS NOT NULL),\n"
        f"  g AS (SELECT *, {c} * 2 AS {name}_x FROM f)\n"
        "SELECT * FROM g"
    )


def _join(name: str, ups: list[str], rng: random.Random) -> str:
    c, d = f"c{rng.randint(1, 10)}", f"c{rng.randint(1, 10)}"
    right = ups[-1]
    return (
        f"SELECT a.*, b.{c} AS {name}_j\n"
        f"FROM {ups[0]} AS a JOIN {right} AS b USING (id)\n"
        f"WHERE b.{d} > 0"
    )


def _aggregate(name: str, ups: list[str], rng: random.Random) -> str:
    # Every asset keeps id and c1..c10, so any later asset can name them.
    keys = ", ".join(f"c{k}" for k in range(1, 11))
    c = f"c{rng.randint(1, 10)}"
    return (
        f"SELECT id, {keys}, sum({c}) AS {name}_s, count(*) AS {name}_n\n"
        f"FROM {ups[0]}\n"
        f"GROUP BY ALL\n"
        f"HAVING count(DISTINCT {c}) > 1"
    )


def _window(name: str, ups: list[str], rng: random.Random) -> str:
    c, d = rng.sample([f"c{k}" for k in range(1, 11)], 2)
    return (
        f"SELECT * EXCLUDE ({c}),\n"
        f"  CASE WHEN {c} > 0 THEN {d} ELSE 0 END AS {c},\n"
        f"  row_number() OVER (PARTITION BY id ORDER BY {d} DESC) AS {name}_rn\n"
        f"FROM {ups[0]}\n"
        f"ORDER BY id"
    )


_SHAPES = (_cte_chain, _join, _aggregate, _window)


def _env() -> dict[str, str]:
    # Python's default: bytecode is cached. Some CI images turn that off, which
    # would time the compiler, not assetflow.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {k: v for k, v in env.items() if not k.startswith("ASSETFLOW_")}


def _run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=_env())
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr}")
    return elapsed, result.stdout


def measure(n: int, repeat: int) -> dict[str, float]:
    """Median seconds of the whole process, and of loading and lineage inside it."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / f"sql_{n}"
        generate(root, n)
        cmd = [sys.executable, "-c", _MEASURED, json.dumps(base_schemas())]
        _run(cmd, root)  # warm the bytecode cache and the file system
        wall, load, lineage = [], [], []
        summary: dict[str, float] = {}
        for _ in range(repeat):
            elapsed, out = _run(cmd, root)
            summary = json.loads(out)
            wall.append(elapsed)
            load.append(summary["load"])
            lineage.append(summary["lineage"])
        if summary["resolved"] != n:
            raise SystemExit(f"only {summary['resolved']} of {n} assets resolved fully")
        return {
            "wall": statistics.median(wall),
            "load": statistics.median(load),
            "lineage": statistics.median(lineage),
            "edges": summary["edges"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print("| measurement | median (s) | target (s) |")
    print("| --- | --- | --- |")
    for n in args.sizes:
        figures = measure(n, args.repeat)
        target = 2.0 if n == 100 else float("nan")
        edges = int(figures["edges"])
        print(f"| N={n} SQL assets, whole process | {figures['wall']:.3f} | {target} |")
        print(f"| N={n}: loading the project, in process | {figures['load']:.3f} | - |")
        print(f"| N={n}: project_column_lineage ({edges} edges) | {figures['lineage']:.3f} | - |")
    # The machines are shared: these rows calibrate the others across runs.
    cmd = [sys.executable, "-c", "import sqlglot.optimizer.qualify"]
    imports = statistics.median(_run(cmd, REPO)[0] for _ in range(args.repeat))
    print(f"| reference: `python -c 'import sqlglot.optimizer.qualify'` | {imports:.3f} | - |")
    baseline = [_run([sys.executable, "-c", "import duckdb"], REPO)[0] for _ in range(args.repeat)]
    print(f"| reference: `python -c 'import duckdb'` | {statistics.median(baseline):.3f} | - |")


if __name__ == "__main__":
    main()
