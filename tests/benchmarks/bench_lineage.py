"""Benchmark: ``assetflow lineage`` exports of the synthetic graph, as whole processes.

The graph is bench_materialize's (N assets in layers of width sqrt(N)). Each
export is timed twice: on a project never materialized (no state), and after
one ``materialize`` (statuses, schemas and last materializations come from the
state). Every figure is the median of several runs of a whole process.

Usage:
    python tests/benchmarks/bench_lineage.py [--size 10000] [--repeat 5]

The figures go to stdout as a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_materialize import _time, generate

FORMATS = ("json", "mermaid", "dot")


def measure(n: int, repeat: int, exe: list[str]) -> dict[tuple[str, str], float]:
    """Median seconds per (format, "no state" | "materialized")."""
    figures: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / f"graph_{n}"
        generate(root, n)
        out = Path(tmp) / "out"
        for when in ("no state", "materialized"):
            if when == "materialized":
                _time([*exe, "materialize", "-q"], root)
            for fmt in FORMATS:
                cmd = [*exe, "lineage", "--format", fmt, "-o", str(out)]
                _time(cmd, root)  # warm the file cache and the bytecode
                figures[fmt, when] = statistics.median(_time(cmd, root) for _ in range(repeat))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--exe", default=str(Path(sys.executable).parent / "assetflow"))
    args = parser.parse_args()
    figures = measure(args.size, args.repeat, [args.exe])
    print(f"| export of N={args.size:,} | no state | materialized |")
    print("| --- | --- | --- |")
    for fmt in FORMATS:
        print(f"| {fmt} | {figures[fmt, 'no state']:.2f} | {figures[fmt, 'materialized']:.2f} |")


if __name__ == "__main__":
    main()
