"""Benchmark: the HTML lineage page, written by ``assetflow lineage`` and opened in Chromium.

For the synthetic graph (bench_materialize's: N assets in layers of width sqrt(N)) at
each size, and for a graph of 1 000 assets in 20 nested groups (4 folders of 4
subfolders), it measures:

* **write**: ``assetflow lineage --format html -o page.html``, a whole process;
* **size** of the page;
* **first view**: from navigation to the page's ``assetflow-first-view`` mark (the
  frame after the first complete drawing), in a fresh headless Chromium process per run;
* **zoom frames** (largest size only): frame intervals while the wheel zooms in and out.

The largest size is measured again after one ``materialize``, when the page carries
each asset's status, last materialization and history.

Every figure is the median of ``--repeat`` runs. Needs Debian's chromium and Playwright.

Usage:
    python tests/benchmarks/bench_html.py [--sizes 100 1000 10000] [--repeat 5]

The figures go to stdout as a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_materialize import _time, generate

ZOOM_SCRIPT = """async () => {
    const graph = document.getElementById("canvas").getBoundingClientRect();
    const frames = [];
    let last = performance.now();
    let running = true;
    const tick = (now) => {
        frames.push(now - last);
        last = now;
        if (running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    for (let i = 0; i < 60; i += 1) {
        const deltaY = i < 30 ? -120 : 120;
        document.getElementById("canvas").dispatchEvent(new WheelEvent("wheel", {
            deltaY, clientX: graph.left + graph.width / 2, clientY: graph.top + graph.height / 2,
            bubbles: true, cancelable: true,
        }));
        await new Promise((r) => requestAnimationFrame(r));
    }
    running = false;
    return frames.slice(2);
}"""


def generate_nested(root: Path, n: int, seed: int = 0) -> None:
    """``n`` assets like the synthetic graph's, in 4 folders of 4 subfolders (20 groups)."""
    rng = random.Random(seed)
    width = max(1, round(math.sqrt(n)))
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    previous: list[str] = []
    made = layer = 0
    while made < n:
        names = [f"a{layer}_{i}" for i in range(min(width, n - made))]
        files: dict[Path, list[str]] = {}
        for i, name in enumerate(names):
            ups = rng.sample(previous, rng.randint(1, min(3, len(previous)))) if previous else []
            folder = i * 16 // len(names)
            path = root / "assets" / f"g{folder // 4}" / f"s{folder % 4}" / f"l{layer}_{folder}.py"
            body = " + ".join(ups) if ups else "0"
            files.setdefault(path, ["from assetflow import asset", ""])
            files[path] += [
                "",
                "@asset",
                f"def {name}({', '.join(ups)}):",
                f"    return {body} + 1",
            ]
        for path, lines in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
        previous = names
        made += len(names)
        layer += 1


def open_page(html: Path, *, zoom: bool) -> tuple[float, list[float]]:
    """Milliseconds to the first complete view, and frame intervals while zooming."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html.resolve().as_uri())
        page.wait_for_selector("body[data-first-view=true]", state="attached", timeout=120_000)
        first: Any = page.evaluate(
            "performance.getEntriesByName('assetflow-first-view')[0].startTime"
        )
        frames: list[float] = page.evaluate(ZOOM_SCRIPT) if zoom else []
        browser.close()
    if errors:
        raise SystemExit(f"{html}: {errors}")
    return float(first), frames


def measure(root: Path, repeat: int, exe: list[str], *, zoom: bool) -> dict[str, Any]:
    html = root.parent / f"{root.name}.html"
    cmd = [*exe, "lineage", "--format", "html", "-o", str(html)]
    _time(cmd, root)  # warm the file cache and the bytecode
    write = statistics.median(_time(cmd, root) for _ in range(repeat))
    runs = [open_page(html, zoom=zoom) for _ in range(repeat)]
    frames = [f for _, fs in runs for f in fs]
    return {
        "write": write,
        "size": html.stat().st_size,
        "first": statistics.median(ms for ms, _ in runs) / 1000,
        "frame_median": statistics.median(frames) if frames else None,
        "frame_p95": sorted(frames)[int(len(frames) * 0.95)] if frames else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--exe", default=str(Path(sys.executable).parent / "assetflow"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            root = Path(tmp) / f"graph_{n}"
            generate(root, n)
            zoom = n == max(args.sizes)
            rows.append((f"synthetic N={n:,}", measure(root, args.repeat, [args.exe], zoom=zoom)))
            if zoom:
                # With state: statuses, schemas and each asset's last materializations.
                _time([args.exe, "materialize", "-q"], root)
                figures = measure(root, args.repeat, [args.exe], zoom=True)
                rows.append((f"synthetic N={n:,}, materialized", figures))
        root = Path(tmp) / "nested_1000"
        generate_nested(root, 1000)
        rows.append(
            ("N=1,000 in 20 nested groups", measure(root, args.repeat, [args.exe], zoom=False))
        )
    print("| page | write (s) | size (MB) | first view (s) | zoom frame median / p95 (ms) |")
    print("| --- | --- | --- | --- | --- |")
    for label, m in rows:
        frames = f"{m['frame_median']:.1f} / {m['frame_p95']:.1f}" if m["frame_median"] else ""
        print(
            f"| {label} | {m['write']:.2f} | {m['size'] / 1e6:.2f} | {m['first']:.2f} | {frames} |"
        )


if __name__ == "__main__":
    main()
