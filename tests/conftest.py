"""Shared fixtures: fixture projects copied into tmp_path, and the real CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECTS = Path(__file__).parent / "projects"
MERMAID_CHECK = Path(__file__).parent / "tools" / "mermaid"
#: The template's assets (not its sources).
TEMPLATE_ASSETS = frozenset(
    {
        "stg_customers",
        "stg_orders",
        "stg_payments",
        "customer_orders",
        "daily_revenue",
        "payment_mix",
        "customer_segments",
        "kpis",
    }
)
TEMPLATE = Path(__file__).parent.parent / "project_template"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("differential", "tests/test_differential.py")
    group.addoption("--seeds", type=int, help="Run the differential test on seeds 0..N-1.")
    group.addoption("--seed", type=int, help="Replay one seed of the differential test.")
    crash = parser.getgroup("crash", "tests/test_crash_loop.py")
    crash.addoption("--kills", type=int, help="SIGKILLs per crash-loop test (default 6).")


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Path]:
    """Copy ``tests/projects/<name>`` (or ``template``) into tmp_path and return the copy."""

    def copy(name: str) -> Path:
        src = TEMPLATE if name == "template" else PROJECTS / name
        dst = tmp_path / name
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", ".assetflow"))
        return dst

    return copy


def run_assetflow(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m assetflow ARGS`` as a user would, capturing its output."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ASSETFLOW_")}
    full_env = {**inherited, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "assetflow", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli("list", "--format", "json", cwd=project)`` runs the real command line."""
    return run_assetflow


def stored_value(root: Path, asset: str) -> object:
    """The current stored value of ``asset`` in the project at ``root`` (default state folder)."""
    from assetflow.state import StateStore
    from assetflow.storage import Storage

    state = root / ".assetflow"
    m = StateStore(state).snapshot().current[asset]
    return Storage(state).load(m.format or "", m.location, m.value)


def mermaid_parse(text: str) -> subprocess.CompletedProcess[str]:
    """Mermaid's own parser (``tests/tools/mermaid``) run on ``text``; exit 0 when it parses."""
    node = shutil.which("node")
    assert node, "Node.js is needed to check Mermaid (.ci/run installs the checker)"
    assert (MERMAID_CHECK / "node_modules").is_dir(), "run 'npm ci' in tests/tools/mermaid"
    return subprocess.run(
        [node, "check.mjs"],
        input=text,
        capture_output=True,
        text=True,
        cwd=MERMAID_CHECK,
        timeout=120,
    )


def dot_render(text: str) -> subprocess.CompletedProcess[str]:
    """Graphviz's ``dot -Tsvg`` run on ``text``; exit 0 when it parses."""
    dot = shutil.which("dot")
    assert dot, "Graphviz 'dot' is needed for this test (.ci/run installs it)"
    return subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True, timeout=120)
