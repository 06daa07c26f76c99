"""Every shell example in README.md and docs/*.md that starts with ``assetflow`` runs.

Each example (a line in a fenced block, with or without a ``$ `` prompt) is run
through the real CLI in a materialized copy of the template project, the one
the docs describe; docs/coming-from-dbt.md's run in its worked example,
tests/projects/dbt_style. An example fails the test when it exits non-zero,
unless ``EXPECTED`` says which exit it shows and why; ``SKIPPED`` lists the
few that cannot run here, each with its reason.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import PROJECTS, TEMPLATE, run_assetflow

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROJECT_OF = {"coming-from-dbt.md": PROJECTS / "dbt_style"}

#: Examples that are not commands to run, or cannot run in a test, and why; they are
#: left out of the examples run (``assetflow watch`` is run in tests/test_watch.py).
SKIPPED = {
    "assetflow [--debug] [--project DIR] [--state DIR] [--set NAME=VALUE]... [--version] [-h] "
    "COMMAND [ARGS]...": "the synopsis, not a command",
    "assetflow watch": "runs until Ctrl-C",
}
#: Examples that show a non-zero exit on purpose: the command → its exit code.
EXPECTED: dict[str, int] = {}


def _examples() -> list[tuple[str, str, str]]:
    """(doc name, "file:line", command) for every example, in the order written."""
    found = []
    for doc in DOCS:
        inside = False
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                inside = not inside
                continue
            text = line.strip().removeprefix("$ ")
            if inside and re.match(r"assetflow(\s|$)", text):
                found.append((doc.name, f"{doc.relative_to(ROOT)}:{number}", text))
    return found


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """Each project the examples run in, copied and materialized once."""
    built = {}
    for source in {TEMPLATE, *PROJECT_OF.values()}:
        root = tmp_path_factory.mktemp("docs") / source.name
        shutil.copytree(source, root, ignore=shutil.ignore_patterns("__pycache__", ".assetflow"))
        result = run_assetflow("materialize", cwd=root)
        assert result.returncode == 0, result.stderr
        built[source] = root
    return built


def _runnable(command: str) -> bool:
    return command not in SKIPPED and shlex.join(shlex.split(command, comments=True)) not in SKIPPED


RUNNABLE = [e for e in EXAMPLES if _runnable(e[2])]


def test_the_docs_have_examples() -> None:
    assert len(RUNNABLE) > 30
    assert set(SKIPPED) <= {command.split("  #")[0].strip() for _, _, command in EXAMPLES}


@pytest.mark.parametrize(
    ("doc", "where", "command"), RUNNABLE, ids=[where for _, where, _ in RUNNABLE]
)
def test_doc_example_runs(projects: dict[Path, Path], doc: str, where: str, command: str) -> None:
    args = shlex.split(command, comments=True)
    text = shlex.join(args)
    root = projects[PROJECT_OF.get(doc, TEMPLATE)]

    result = run_assetflow(*args[1:], cwd=root)

    expected = EXPECTED.get(text, 0)
    assert result.returncode == expected, (
        f"{where}: `{text}` exited {result.returncode}, not {expected}:\n"
        f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    )
