"""Benchmark: parallel speed-up, and the threads executor's scheduling overhead.

1. Sixteen independent assets, each spending ~0.25 s hashing a buffer with
   SHA-256 (hashlib releases the GIL for large inputs), run as whole
   `assetflow materialize --force` processes with 1 and with 2 workers.
   Target: a speed-up of at least 1.8x on 2 cores.
2. The synthetic 1 000-asset graph of bench_materialize.py, cold runs with
   `--executor threads -j 2` against `--executor inline` (each asset in the
   coordinating thread, no handoff): the difference per asset is the
   scheduling overhead of threads. Target: at most 0.3 ms per asset.

Usage:
    python tests/benchmarks/bench_parallel.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_materialize import _env, _time, generate

WORK = """
import hashlib
from assetflow import asset

BUFFER = bytes(range(256)) * 4096 * 4  # 4 MiB
ROUNDS = {rounds}


def _work(seed):
    h = hashlib.sha256(seed)
    for _ in range(ROUNDS):
        h.update(BUFFER)
    return h.hexdigest()
"""


def calibrate(seconds: float = 0.25) -> int:
    """How many 4 MiB SHA-256 updates take ``seconds`` on this machine."""
    buffer = bytes(range(256)) * 4096 * 4
    h = hashlib.sha256()
    start = time.perf_counter()
    for _ in range(20):
        h.update(buffer)
    per_round = (time.perf_counter() - start) / 20
    return max(1, round(seconds / per_round))


def write_parallel_project(root: Path, rounds: int, count: int = 16) -> None:
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    lines = [WORK.format(rounds=rounds)]
    for i in range(count):
        lines += ["", "@asset", f"def work_{i}():", f"    return _work(b'{i}')", ""]
    (root / "assets" / "work.py").write_text("\n".join(lines))


def run_duration(cmd: list[str], cwd: Path) -> float:
    """The run's own duration, from its run_finished event (start-up excluded)."""
    out = subprocess.run(
        [*cmd, "--format", "jsonl"], cwd=cwd, capture_output=True, text=True, env=_env(), check=True
    ).stdout
    return float(json.loads(out.splitlines()[-1])["duration_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    exe = [str(Path(sys.executable).parent / "assetflow")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "parallel"
        rounds = calibrate()
        write_parallel_project(root, rounds)
        _time([*exe, "materialize"], root)  # bytecode and state in place
        base = [*exe, "materialize", "--force", "-j"]
        one = statistics.median(_time([*base, "1"], root) for _ in range(args.repeat))
        two = statistics.median(_time([*base, "2"], root) for _ in range(args.repeat))
        run_one = statistics.median(run_duration([*base, "1"], root) for _ in range(args.repeat))
        run_two = statistics.median(run_duration([*base, "2"], root) for _ in range(args.repeat))
        graph = Path(tmp) / "graph"
        generate(graph, 1000)

        def cold(*flags: str) -> float:
            runs = []
            for _ in range(args.repeat):
                shutil.rmtree(graph / ".assetflow", ignore_errors=True)
                runs.append(_time([*exe, "materialize", *flags], graph))
            return statistics.median(runs)

        inline = cold("--executor", "inline")
        threads = cold("--executor", "threads", "-j", "2")
    print("| measurement | median | target |")
    print("| --- | --- | --- |")
    work = "16 x 0.25 s GIL-releasing assets"
    print(f"| {work}, 1 worker: process / run | {one:.2f} s / {run_one:.2f} s | |")
    print(f"| same, 2 workers: process / run | {two:.2f} s / {run_two:.2f} s | |")
    print(f"| speed-up of the run | {run_one / run_two:.2f}x | >= 1.8x |")
    print(f"| speed-up of the whole process (start-up included) | {one / two:.2f}x | |")
    print(f"| N=1000 cold, inline executor | {inline:.3f} s | |")
    print(f"| N=1000 cold, threads executor, 2 workers | {threads:.3f} s | |")
    overhead_ms = (threads - inline) / 1000 * 1000
    print(f"| threads scheduling overhead per asset | {overhead_ms:.3f} ms | <= 0.3 ms |")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
