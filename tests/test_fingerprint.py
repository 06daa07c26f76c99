"""Code versions: what changes them, what does not, and what they cost."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import assetflow
from assetflow.fingerprint import code_versions, short

ORDERS_PY = '''\
import functools

from assetflow import asset, source

from . import _lib
from ._consts import *
from ._shared import FACTOR

raw = source("data/raw.csv")

RATE = 0.5  # the rate
LIMIT = 10


def _scale(x):
    return _clip(x) * RATE


def _clip(x):
    return min(x, LIMIT)


def _countdown(n):
    return 0 if n <= 0 else _countdown(n - 1)


def _even(n):
    return True if n == 0 else _odd(n - 1)


def _odd(n):
    return False if n == 0 else _even(n - 1)


def _make_multiplier(k):
    return lambda x: x * k


_times_four = _make_multiplier(4)


@functools.lru_cache
def _cached_square(x):
    return x * x


class Scaler:
    """Scales."""

    def apply(self, x):
        return x + 1


@asset(tags=["daily"])
def orders(raw):
    """All orders."""
    # keep every row
    return [1, 2, 3]


@asset
def direct(raw):
    return orders(raw)[:1]


@asset
def scaled(orders):
    return [_scale(x) for x in orders]


@asset
def factored(orders):
    return [x * FACTOR for x in orders]


@asset
def classy(orders):
    return [Scaler().apply(x) for x in orders]


@asset
def tripled(orders):
    return [_lib.triple(x) for x in orders]


@asset
def recursive(orders):
    return [_countdown(x) + _even(x) for x in orders]


@asset
def cached(orders):
    return [_cached_square(x) for x in orders]


@asset
def multiplied(orders):
    return [_times_four(x) for x in orders]


@asset
def thresholded(orders):
    return [x for x in orders if x > THRESHOLD and "b" in KINDS]


@asset(version="v1")
def pinned(orders):
    return orders
'''

REPORT_SQL = """\
-- description: Totals.
SELECT sum(x) AS total -- the total
FROM scaled
WHERE x > 1
"""

PROJECT = {
    "assetflow.toml": 'assets = "assets"\n',
    "assets/orders.py": ORDERS_PY,
    "assets/_shared.py": "FACTOR = 2\nOTHER = 5\n",
    "assets/_consts.py": "THRESHOLD = 7\nKINDS = frozenset({'a', 'b', 'c', 'd', 'e'})\n",
    "assets/_lib.py": "def triple(x):\n    return x * 3\n",
    "assets/report.sql": REPORT_SQL,
}
CODE_ASSETS = {
    "orders", "direct", "scaled", "factored", "classy", "tripled", "recursive", "cached",
    "multiplied", "thresholded", "pinned", "report",
}  # fmt: skip


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _versions(root: Path) -> dict[str, str]:
    # An edit that keeps a file's size within the same second would reuse the stale .pyc.
    for cache in root.rglob("__pycache__"):
        shutil.rmtree(cache)
    loaded = assetflow.load(root)
    return code_versions(loaded.graph, loaded.project.package)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("rel", "old", "new", "changed"),
    [
        ("assets/orders.py", "# keep every row", "# rows are kept as they are", set()),
        ("assets/orders.py", '"""All orders."""', '"""Every order, deduplicated."""', set()),
        ("assets/orders.py", "return [1, 2, 3]", "return [1,\n2,   3]", set()),
        ("assets/orders.py", '@asset(tags=["daily"])', '@asset(tags=["hourly"], retries=2)', set()),
        ("assets/orders.py", "return [1, 2, 3]", "return [1, 2, 4]", {"orders", "direct"}),
        ("assets/orders.py", "_clip(x) * RATE", "_clip(x) * RATE * 2", {"scaled"}),
        ("assets/orders.py", "min(x, LIMIT)", "max(x, LIMIT)", {"scaled"}),
        ("assets/orders.py", "RATE = 0.5  # the rate", "RATE = 0.25", {"scaled"}),
        ("assets/orders.py", "LIMIT = 10", "LIMIT = 11", {"scaled"}),
        ("assets/_shared.py", "FACTOR = 2", "FACTOR = 3", {"factored"}),
        ("assets/_shared.py", "OTHER = 5", "OTHER = 6", set()),
        ("assets/_consts.py", "THRESHOLD = 7", "THRESHOLD = 8", {"thresholded"}),
        ("assets/_consts.py", "'e'})", "'f'})", {"thresholded"}),
        ("assets/orders.py", "return x + 1", "return x + 2", {"classy"}),
        ("assets/orders.py", '"""Scales."""', '"""Scales up."""', set()),
        ("assets/_lib.py", "x * 3", "x * 4", {"tripled"}),
        ("assets/orders.py", "_countdown(n - 1)", "_countdown(n - 2)", {"recursive"}),
        ("assets/orders.py", "_odd(n - 1)", "_odd(n - 2)", {"recursive"}),
        ("assets/orders.py", "return x * x", "return x**3", {"cached"}),
        ("assets/orders.py", "_make_multiplier(4)", "_make_multiplier(5)", {"multiplied"}),
        ("assets/orders.py", "lambda x: x * k", "lambda x: x + k", {"multiplied"}),
        ("assets/orders.py", "@asset\ndef scaled", '@asset(io="memory")\ndef scaled', {"scaled"}),
        ("assets/orders.py", "    return orders\n", "    return orders[::-1]\n", set()),
        ("assets/orders.py", 'version="v1"', 'version="v2"', {"pinned"}),
        ("assets/report.sql", "-- the total", "-- the grand total", set()),
        ("assets/report.sql", "FROM scaled\nWHERE", "FROM   scaled   where", set()),
        ("assets/report.sql", "SELECT sum(x) AS total", "select SUM(x) as total", set()),
        ("assets/report.sql", "x > 1", "x > 2", {"report"}),
    ],
    ids=[
        "comment-is-ignored",
        "docstring-is-ignored",
        "layout-is-ignored",
        "decorator-tags-are-ignored",
        "body-changes-it-and-its-direct-callers",
        "helper-changes-its-callers-only",
        "transitive-helper",
        "module-constant",
        "constant-of-transitive-helper",
        "constant-imported-from-private-module",
        "unused-constant-of-imported-module",
        "constant-from-star-import",
        "set-constant-from-star-import",
        "helper-class-method",
        "helper-class-docstring-is-ignored",
        "helper-through-module-attribute",
        "recursive-helper",
        "mutually-recursive-helpers",
        "helper-wrapped-by-lru-cache",
        "function-made-by-a-factory-constant",
        "function-made-by-a-factory-body",
        "io-option",
        "pinned-ignores-body",
        "pin-change",
        "sql-comment-is-ignored",
        "sql-whitespace-is-ignored",
        "sql-keyword-case-is-ignored",
        "sql-literal",
    ],
)
def test_code_versions_change_only_for_edited_code(tmp_path, rel, old, new, changed):
    root = _write(tmp_path, PROJECT)
    before = _versions(root)
    _edit(root / rel, old, new)
    after = _versions(root)
    assert {name for name in before if before[name] != after[name]} == changed


def test_code_versions_cover_python_and_sql_assets_not_sources(tmp_path):
    versions = _versions(_write(tmp_path, PROJECT))
    assert set(versions) == CODE_ASSETS
    assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in versions.values())
    assert len(set(versions.values())) == len(versions)


def test_code_versions_are_equal_across_loads(tmp_path):
    root = _write(tmp_path, PROJECT)
    first, second = assetflow.load(root), assetflow.load(root)
    assert first.project.package != second.project.package
    assert code_versions(first.graph, first.project.package) == code_versions(
        second.graph, second.project.package
    )


def test_code_versions_do_not_depend_on_the_hash_seed(tmp_path):
    root = _write(tmp_path, PROJECT)
    script = (
        "import json, sys, assetflow\n"
        "from assetflow.fingerprint import code_versions\n"
        "loaded = assetflow.load(sys.argv[1])\n"
        "print(json.dumps(code_versions(loaded.graph, loaded.project.package)))\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script, str(root)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert json.loads(outputs[0]) == json.loads(outputs[1]) == _versions(root)


def test_code_versions_parse_each_file_once(tmp_path, monkeypatch):
    loaded = assetflow.load(_write(tmp_path, PROJECT))
    parsed: Counter[str] = Counter()
    real_parse = ast.parse

    def counting_parse(source, filename="<unknown>", *args, **kwargs):
        parsed[Path(filename).name] += 1
        return real_parse(source, filename, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting_parse)
    code_versions(loaded.graph, loaded.project.package)
    # _consts.py is star-imported: its constant is read as a value, never parsed.
    assert parsed == {"orders.py": 1, "_shared.py": 1, "_lib.py": 1}


def test_short_keeps_seven_characters():
    assert short("a1b2c3d4e5f60718293a4b5c6d7e8f90") == "a1b2c3d"
