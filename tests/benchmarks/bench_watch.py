"""Benchmark: from a saved file to the end of ``assetflow watch``'s rebuild report.

A chain of N Python assets, one per file (``a0 <- a1 <- ... <- a{N-1}``); the
save edits the body of the last one in place, so exactly one asset re-runs.
The whole ``assetflow watch`` process runs as a user's would, its report read
through a pipe (stderr); a save is timed from just before the write to the moment the
rebuild's final line (``✓ ...``) is read. Medians of several saves.

Usage:
    python tests/benchmarks/bench_watch.py [--sizes 100 1000] [--saves 7]

The figures go to stdout as a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGETS = {100: 0.5, 1000: 1.0}
DEADLINE = 120.0


def generate(root: Path, n: int) -> None:
    """Write a chain of ``n`` Python assets, one per file, under ``root``."""
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    for i in range(n):
        up = f"a{i - 1}" if i else ""
        body = f"{up} + 1" if i else "1"
        (root / "assets" / f"a{i:04d}.py").write_text(
            f"from assetflow import asset\n\n\n@asset\ndef a{i}({up}):\n    return {body}\n"
        )


def _env() -> dict[str, str]:
    # Python's default: bytecode is cached (see bench_materialize.py).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in env.items() if not k.startswith("ASSETFLOW_")}
    return {**env, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}


class _Watch:
    def __init__(self, root: Path, exe: list[str]) -> None:
        self.proc = subprocess.Popen(
            [*exe, "watch"],
            cwd=root,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # the report
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put((time.perf_counter(), line.rstrip("\n")))

    def end_of_report(self) -> tuple[float, str]:
        """When the next rebuild's final line was read, and the line."""
        deadline = time.monotonic() + DEADLINE
        while True:
            at, line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if line.startswith(("✓", "✗")):
                return at, line

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=DEADLINE)


def measure(n: int, saves: int, exe: list[str]) -> tuple[float, list[float]]:
    """Median seconds from an in-place save of the last asset to its report's end."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / f"chain_{n}"
        generate(root, n)
        last = root / "assets" / f"a{n - 1:04d}.py"
        watch = _Watch(root, exe)
        try:
            _, line = watch.end_of_report()  # the initial build
            assert line.startswith("✓"), line
            times = []
            for i in range(saves):
                text = last.read_text().replace(f"+ {i + 1}", f"+ {i + 2}")
                time.sleep(0.3)  # let the machine settle; not part of the figure
                start = time.perf_counter()
                last.write_text(text)
                at, line = watch.end_of_report()
                if not line.startswith("✓ rebuilt 1 asset"):
                    raise SystemExit(f"unexpected report end: {line}")
                times.append(at - start)
        finally:
            watch.stop()
        return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--saves", type=int, default=7)
    args = parser.parse_args()
    exe = [str(Path(sys.executable).parent / "assetflow")]
    print("| measurement | median (s) | all saves (s) | target (s) |")
    print("| --- | --- | --- | --- |")
    for n in args.sizes:
        median, times = measure(n, args.saves, exe)
        spread = " ".join(f"{t:.2f}" for t in times)
        target = TARGETS.get(n, float("nan"))
        print(f"| N={n} save → end of rebuild report | {median:.3f} | {spread} | {target} |")


if __name__ == "__main__":
    main()
