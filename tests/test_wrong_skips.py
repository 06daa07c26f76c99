"""Edits after which an asset must be recomputed: never reported fresh with its old value.

Each case is a project of one source (``data/a.csv``: ``k,v`` rows ``1,10`` and
``2,20``) and one asset ``total``. It is materialized through the CLI, one file
is edited, and it is materialized again: the stored value must be what a build
from scratch of the edited files gives, and ``status`` must then say fresh.
The first seven are the wrong skips of issue 11; the rest are the forms its
tracer must follow like functions (partial, callable instances, decorators,
closures, imports inside functions, values computed at import time).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import stored_value

from assetflow.cli import main

SUM = 'sum({expr} for v in raw_a["v"].to_pylist())'
HEADER = 'from assetflow import asset, source\n\nraw_a = source("data/a.csv")\n'


def _total(body: str, *, params: str = "raw_a") -> str:
    return f"\n\n@asset\ndef total({params}) -> int:\n{body}\n"


# (files, file to edit, old, new, expected value before, expected value after)
CASES = {
    "bound-default": (
        {
            "total.py": HEADER
            + "factor = 3\n\n\ndef scale(x, factor=factor):\n    return x * factor\n"
            + _total("    return " + SUM.format(expr="scale(v)")),
        },
        "total.py",
        "factor = 3",
        "factor = 5",
        90,
        150,
    ),
    "nested-parameter-named-like-a-constant": (
        {
            "total.py": HEADER
            + "offset = 1\n"
            + _total(
                "    def add(v, offset):\n        return v + offset\n\n"
                "    return " + SUM.format(expr="add(v, offset)")
            ),
        },
        "total.py",
        "offset = 1",
        "offset = 100",
        32,
        230,
    ),
    "module-lambda-reading-a-constant": (
        {
            "total.py": HEADER
            + "FACTOR = 3\nscale = lambda x: x * FACTOR  # noqa: E731\n"
            + _total("    return " + SUM.format(expr="scale(v)")),
        },
        "total.py",
        "FACTOR = 3",
        "FACTOR = 7",
        90,
        210,
    ),
    "lambda-calling-a-helper": (
        {
            "total.py": HEADER
            + "def double(x):\n    return x * 2\n\n\nscale = lambda x: double(x) + 1\n"
            + _total("    return " + SUM.format(expr="scale(v)")),
        },
        "total.py",
        "return x * 2",
        "return x * 10",
        62,
        302,
    ),
    "lambda-default": (
        {
            "total.py": HEADER
            + "scale = lambda x, k=1: x * k\n"
            + _total("    return " + SUM.format(expr="scale(v)")),
        },
        "total.py",
        "k=1",
        "k=9",
        30,
        270,
    ),
    "star-imported-value-that-is-not-plain-data": (
        {
            "_lib.py": "from fractions import Fraction\n\nRATE = Fraction(3, 2)\n",
            "total.py": HEADER
            + "from ._lib import *\n"
            + _total("    return int(" + SUM.format(expr="v * RATE") + ")"),
        },
        "_lib.py",
        "Fraction(3, 2)",
        "Fraction(5, 2)",
        45,
        75,
    ),
    "functools-partial": (
        {
            "total.py": HEADER
            + "import functools\n\n\ndef mul(k, x):\n    return k * x\n\n\n"
            + "scale = functools.partial(mul, 3)\n"
            + _total("    return " + SUM.format(expr="scale(v)")),
        },
        "total.py",
        "partial(mul, 3)",
        "partial(mul, 4)",
        90,
        120,
    ),
    "callable-instance": (
        {
            "total.py": HEADER
            + "class Scale:\n    def __init__(self, k):\n        self.k = k\n\n"
            + "    def __call__(self, x):\n        return self.k * x\n\n\nscale = Scale(2)\n"
            + _total("    return " + SUM.format(expr="scale(v)")),
        },
        "total.py",
        "Scale(2)",
        "Scale(6)",
        60,
        180,
    ),
    "decorator-without-wraps": (
        {
            "_deco.py": "def plus(n):\n    def wrap(f):\n        def inner(x):\n"
            "            return f(x) + n\n        return inner\n    return wrap\n",
            "total.py": HEADER
            + "from ._deco import plus\n\n\n@plus(1)\ndef scale(x):\n    return x\n"
            + _total("    return " + SUM.format(expr="scale(v)")),
        },
        "_deco.py",
        "f(x) + n",
        "f(x) * n",
        32,
        30,
    ),
    "closure-from-a-factory": (
        {
            "_lib.py": "def make(k):\n    return lambda x: x * k\n",
            "total.py": HEADER
            + "from ._lib import make\n\nscale = make(4)\n"
            + _total("    return " + SUM.format(expr="scale(v)")),
        },
        "_lib.py",
        "x * k",
        "x * k * k",
        120,
        480,
    ),
    "import-inside-the-asset": (
        {
            "_lib.py": "def scale(x):\n    return x * 2\n",
            "total.py": HEADER
            + _total("    from ._lib import scale\n\n    return " + SUM.format(expr="scale(v)")),
        },
        "_lib.py",
        "x * 2",
        "x * 3",
        60,
        90,
    ),
    "value-computed-at-import": (
        {
            "_lib.py": "import pathlib\n\nFACTOR = int(pathlib.Path(__file__).with_name("
            "'factor.txt').read_text())\n",
            "factor.txt": "2\n",
            "total.py": HEADER
            + "from ._lib import FACTOR\n"
            + _total("    return " + SUM.format(expr="v * FACTOR")),
        },
        "factor.txt",
        "2",
        "5",
        60,
        150,
    ),
}


@pytest.fixture(autouse=True)
def _bytecode_written(monkeypatch):
    """Cache bytecode, as users' Pythons do, even where CI images turn it off."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


def _project(root: Path, files: dict[str, str]) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("k,v\n1,10\n2,20\n")
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    for rel, text in files.items():
        path = root / "assets" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _invoke(root: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(main, [*args, "--project", str(root), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _edit_in_place(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new``, keeping the modification time a second-granular clock shows."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
    before = path.stat()
    path.write_text(text.replace(old, new))
    # The worst case for every cache keyed by file metadata: the same second as before.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))


@pytest.mark.parametrize(
    ("files", "rel", "old", "new", "before", "after"), CASES.values(), ids=list(CASES)
)
def test_edit_recomputes_the_asset(tmp_path, files, rel, old, new, before, after):
    root = _project(tmp_path / "p", files)
    _invoke(root, "materialize")
    assert stored_value(root, "total") == before
    _edit_in_place(root / "assets" / rel, old, new)
    doc = _invoke(root, "materialize")
    outcomes = {a["name"]: a["outcome"] for a in doc["assets"]}  # type: ignore[attr-defined]
    assert outcomes["total"] == "materialized", doc
    assert stored_value(root, "total") == after
    fresh = _project(tmp_path / "scratch", {**files, rel: (root / "assets" / rel).read_text()})
    _invoke(fresh, "materialize")
    assert stored_value(fresh, "total") == after
    status = _invoke(root, "status")
    assert {a["name"]: a["status"] for a in status["assets"]}["total"] == "fresh"  # type: ignore[index]


OPAQUE = HEADER + (
    "import threading\n\n\nclass Rate:\n    __slots__ = ()\n\n    def __repr__(self):\n"
    "        return 'Rate(2)'\n\n\nRATE = Rate()\nLOCK = threading.Lock()\n"
    + _total("    with LOCK:\n        return " + SUM.format(expr="v * 2") + " + len(repr(RATE))")
)


def test_values_without_an_exact_description_are_named_with_the_fix(tmp_path):
    root = _project(tmp_path / "p", {"total.py": OPAQUE})
    _invoke(root, "materialize")
    # The lock's repr holds its address: described without it, the version is stable.
    doc = _invoke(root, "materialize")
    assert [a["outcome"] for a in doc["assets"]] == ["fresh"]  # type: ignore[index]
    why = CliRunner().invoke(main, ["status", "--why", "total", "--project", str(root)])
    assert why.exit_code == 0, why.output
    assert "total is fresh." in why.output
    for name in ("total.RATE (a total.Rate)", "total.LOCK (a _thread.lock)"):
        assert name in why.output and "version=" in why.output
    check = CliRunner().invoke(main, ["check", "--definitions", "--project", str(root)])
    assert check.exit_code == 0, check.output
    assert "WARN" in check.output and "total.RATE" in check.output and "version=" in check.output
    # A change its repr shows still changes the version.
    _edit_in_place(root / "assets" / "total.py", "'Rate(2)'", "'Rate(3)'")
    doc = _invoke(root, "materialize")
    assert [a["outcome"] for a in doc["assets"]] == ["materialized"]  # type: ignore[index]


def test_a_copied_project_runs_its_own_files(tmp_path):
    """Bytecode cached for one copy of a project is never used for another (it names its file)."""
    import shutil

    files = {"total.py": HEADER + _total("    return " + SUM.format(expr="v"))}
    first = _project(tmp_path / "first", files)
    _invoke(first, "materialize")
    assert list((first / "assets" / "__pycache__").glob("*.assetflow.pyc"))
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    doc = _invoke(copy, "materialize")
    assert [a["outcome"] for a in doc["assets"]] == ["fresh"]  # type: ignore[index]
    (copy / "data" / "a.csv").write_text("k,v\n1,1\n")
    _invoke(copy, "materialize")
    assert stored_value(copy, "total") == 1


def test_a_source_rewritten_with_the_same_size_and_mtime_right_after_a_read(tmp_path):
    """A file's (size, mtime) vouch for its content only once it is two seconds old."""
    import time

    root = _project(
        tmp_path / "p", {"total.py": HEADER + _total("    return " + SUM.format(expr="v"))}
    )
    data = root / "data" / "a.csv"
    now = time.time_ns()
    os.utime(data, ns=(now, now))
    _invoke(root, "materialize")
    assert stored_value(root, "total") == 30
    data.write_text("k,v\n1,10\n2,21\n")  # the same size
    os.utime(data, ns=(now, now))  # and the same mtime: a coarse clock's view
    _invoke(root, "materialize")
    assert stored_value(root, "total") == 31
