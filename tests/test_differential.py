"""Never a wrong skip: an asset reported fresh holds what a from-scratch build gives.

Each seed generates a project (tests/differential/generator.py), then applies
random edits to it one at a time. After each edit, ``materialize`` runs in the
working project, which keeps its state from the steps before, and in a fresh
copy of the same files; every asset's stored value must be the same in both.
A difference fails with the seed, the edit's number and description, and the
files it changed. Replay one seed with ``--seed S``; run more with ``--seeds N``
(default: seeds 0-3, 14 edits each). Unneeded re-runs (an asset re-ran though
it and all its inputs came out as before) are counted per edit kind and printed
at the end; they are not failures. Set ``DIFFERENTIAL_LOG=file`` to append every
mismatch to a JSON-lines file.

The CLI runs in this process (click's CliRunner). Stale code cannot leak
between steps: every load imports the files under a new package, no bytecode
is written (``sys.dont_write_bytecode``, ``PYTHONDONTWRITEBYTECODE`` for
process workers), and every write moves the file's mtime a second forward;
see tests/differential/runner.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from differential.runner import SeedReport, run_seed, summary

DEFAULT_SEEDS = 4
EDITS = 14
PROCESSES_SEED = 1000  # the seed that also runs under --executor processes
PROCESSES_EDITS = 14

_REPORTS: list[SeedReport] = []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames:
        one = metafunc.config.getoption("--seed")
        many = metafunc.config.getoption("--seeds")
        seeds = [one] if one is not None else list(range(many or DEFAULT_SEEDS))
        metafunc.parametrize("seed", seeds, ids=[f"seed{s}" for s in seeds])


@pytest.fixture(scope="module", autouse=True)
def _print_summary(request: pytest.FixtureRequest):
    yield
    plugins = request.config.pluginmanager
    terminal = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if _REPORTS and terminal is not None and capture is not None:
        # Output is captured at the file descriptor during teardown: step around it.
        with capture.global_and_fixture_disabled():
            terminal.write_line("")
            for line in summary(_REPORTS).splitlines():
                terminal.write_line(line)


def _check(report: SeedReport) -> None:
    _REPORTS.append(report)
    log = os.environ.get("DIFFERENTIAL_LOG")
    if log:
        with Path(log).open("a") as f:
            for m in report.mismatches:
                f.write(json.dumps({**dataclasses.asdict(m), "edit": dataclasses.asdict(m.edit)}))
                f.write("\n")
    if report.mismatches:
        first = sorted(report.mismatches, key=lambda m: (not m.root, m.step))
        shown = "\n\n".join(m.describe() for m in first[:3])
        more = len(report.mismatches) - 3
        pytest.fail(
            f"{len(report.mismatches)} assets differ from a build from scratch:\n\n{shown}"
            + (f"\n\n... and {more} more" if more > 0 else ""),
            pytrace=False,
        )


def test_differential_incremental_equals_scratch(seed: int, tmp_path: Path) -> None:
    _check(run_seed(seed, EDITS, tmp_path))


def test_differential_processes_executor(tmp_path: Path) -> None:
    _check(run_seed(PROCESSES_SEED, PROCESSES_EDITS, tmp_path, executor="processes"))
