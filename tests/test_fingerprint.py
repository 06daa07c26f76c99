"""Code versions: what changes them, what does not, and what they cost."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import assetflow
from assetflow import fingerprint
from assetflow.fingerprint import CACHE_FILE, READS_FILE, cached_code_versions, code_versions, short

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
    # _consts.py and _shared.py hold plain values only: each is described by value, never parsed.
    assert parsed == {"orders.py": 1, "_lib.py": 1}


def test_short_keeps_seven_characters():
    assert short("a1b2c3d4e5f60718293a4b5c6d7e8f90") == "a1b2c3d"


CACHE_PROJECT = {
    "assetflow.toml": 'assets = "assets"\n',
    "assets/a.py": (
        "from assetflow import asset\n\nfrom ._helpers import scale\n\n\n"
        "@asset\ndef a1():\n    return scale(1)\n\n\n"
        "@asset\ndef a2(a1):\n    return a1 + 1\n"
    ),
    "assets/b.py": (
        "from assetflow import asset\n\nfrom . import _lib\n\n\n"
        "@asset\ndef b1(a2):\n    return _lib.triple(a2)\n\n\n"
        "@asset\ndef b2(b1):\n    return b1\n"
    ),
    "assets/c.py": (
        "from assetflow import asset\n\nfrom ._consts import *\n\n\n"
        "@asset\ndef c1(b2):\n    return b2 * LIMIT\n\n\n"
        '@asset(version="v1")\ndef c2():\n    return 0\n'
    ),
    "assets/_helpers.py": (
        "FACTOR = 2\n\n\ndef scale(x):\n    return x * FACTOR\n\n\ndef unused():\n    return 0\n"
    ),
    "assets/_lib.py": "def triple(x):\n    return x * 3\n",
    "assets/_consts.py": "LIMIT = 10\n",
    "assets/report.sql": "SELECT * FROM c1\n",
}
SETTLED = 1_700_000_000.0  # a clock reading, for tests that set modification times themselves


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the assets whose code version was computed, not reused from the cache."""
    names: list[str] = []
    compute = fingerprint._version

    def counting(asset, tracer):
        names.append(asset.name)
        return compute(asset, tracer)

    monkeypatch.setattr(fingerprint, "_version", counting)
    return names


def _cached(root: Path, *, now: float | None = None) -> dict[str, str]:
    for cache in root.rglob("__pycache__"):  # see _versions
        shutil.rmtree(cache)
    (root / ".assetflow").mkdir(exist_ok=True)
    loaded = assetflow.load(root)
    return cached_code_versions(
        loaded.graph,
        loaded.project.package,
        assets_dir=loaded.config.assets_dir,
        cache_dir=loaded.config.state_dir / "cache",
        now=time.time() + 60 if now is None else now,
    )


@pytest.mark.parametrize(
    ("rel", "old", "new", "recomputed", "changed"),
    [
        ("assets/a.py", "a1 + 1", "a1 + 2", {"a1", "a2"}, {"a2"}),
        ("assets/b.py", "return b1\n", "return -b1\n", {"b1", "b2"}, {"b2"}),
        ("assets/_helpers.py", "FACTOR = 2", "FACTOR = 3", {"a1"}, {"a1"}),
        ("assets/_helpers.py", "return 0", "return 1", {"a1"}, set()),
        ("assets/_lib.py", "x * 3", "x * 4", {"b1"}, {"b1"}),
        ("assets/_consts.py", "LIMIT = 10", "LIMIT = 11", {"c1"}, {"c1"}),
        ("assets/_consts.py", "LIMIT = 10", "LIMIT = 5 + 5  # rows", set(), set()),
        ("assets/b.py", "@asset\ndef b2", '@asset(io="memory")\ndef b2', {"b1", "b2"}, {"b2"}),
        ("assets/b.py", "@asset\ndef b2", '@asset(tags=["x"])\ndef b2', {"b1", "b2"}, set()),
        ("assets/c.py", 'version="v1"', 'version="v2"', {"c1", "c2"}, {"c2"}),
        ("assets/report.sql", "SELECT *", "SELECT c1", {"report"}, {"report"}),
    ],
    ids=[
        "asset-file-recomputes-its-assets",
        "other-asset-file",
        "helper-module-constant",
        "unused-helper-recomputes-but-keeps-the-version",
        "helper-through-module-attribute",
        "star-imported-value",
        "star-imported-value-unchanged-is-reused",
        "io-option",
        "tags-are-not-part-of-the-version",
        "pin-change",
        "sql-query",
    ],
)
def test_cached_code_versions_recompute_only_what_an_edit_reaches(
    tmp_path, computed, rel, old, new, recomputed, changed
):
    root = _write(tmp_path, CACHE_PROJECT)
    before = _cached(root)
    computed.clear()
    _edit(root / rel, old, new)
    after = _cached(root)
    assert set(computed) == recomputed
    assert {name for name in before if before[name] != after[name]} == changed
    assert after == _versions(root)


def test_cached_code_versions_follow_a_name_rebound_by_a_file_never_parsed(tmp_path, computed):
    root = _write(
        tmp_path,
        {
            "assetflow.toml": 'assets = "assets"\n',
            "assets/a.py": (
                "from assetflow import asset\n\nfrom ._api import helper\n\n\n"
                "@asset\ndef a1():\n    return helper()\n"
            ),
            "assets/_api.py": (
                "from ._one import helper as one\nfrom ._two import helper as two\n\nhelper = one\n"
            ),
            "assets/_one.py": "def helper():\n    return 1\n",
            "assets/_two.py": "def helper():\n    return 2\n",
        },
    )
    before = _cached(root)
    computed.clear()
    _edit(root / "assets/_api.py", "helper = one", "helper = two")
    after = _cached(root)
    assert computed == ["a1"]
    assert after["a1"] != before["a1"]
    assert after == _versions(root)


def test_cached_code_versions_follow_a_deleted_helper_module(tmp_path, computed):
    root = _write(
        tmp_path,
        {
            **CACHE_PROJECT,
            "assets/d.py": (
                "from assetflow import asset\n\ntry:\n    from ._extra import BONUS\n"
                "except ImportError:\n    BONUS = 0\n\n\n"
                "@asset\ndef d1():\n    return BONUS\n"
            ),
            "assets/_extra.py": "BONUS = 1\n",
        },
    )
    before = _cached(root)
    computed.clear()
    (root / "assets/_extra.py").unlink()
    after = _cached(root)
    assert computed == ["d1"]
    assert after["d1"] != before["d1"]
    assert after == _versions(root)


def test_cached_code_versions_forget_renamed_and_deleted_assets(tmp_path, computed):
    d_py = "from assetflow import asset\n\n\n@asset\ndef d1():\n    return 4\n"
    root = _write(tmp_path, {**CACHE_PROJECT, "assets/d.py": d_py})
    before = _cached(root)
    computed.clear()
    _edit(root / "assets/d.py", "def d1", "def d9")
    renamed = _cached(root)
    assert computed == ["d9"]
    assert set(renamed) == set(before) - {"d1"} | {"d9"}
    computed.clear()
    (root / "assets/d.py").unlink()
    deleted = _cached(root)
    assert computed == []
    assert deleted == {name: v for name, v in before.items() if name != "d1"}


def test_cached_code_versions_of_unchanged_files_compute_nothing(tmp_path, computed):
    root = _write(tmp_path, CACHE_PROJECT)
    first = _cached(root)
    assert set(computed) == set(first)
    computed.clear()
    assert _cached(root) == first
    assert computed == []


def test_cached_code_versions_recheck_a_file_modified_just_before_they_were_read(
    tmp_path, computed
):
    # Same size, same mtime_ns, other contents: only the two-second rule catches it.
    root = _write(tmp_path, CACHE_PROJECT)
    for path in (root / "assets").iterdir():
        os.utime(path, (SETTLED - 100, SETTLED - 100))
    a_py = root / "assets" / "a.py"
    os.utime(a_py, (SETTLED, SETTLED))
    before = _cached(root, now=SETTLED + 1)
    computed.clear()
    _edit(a_py, "a1 + 1", "a1 + 2")
    os.utime(a_py, (SETTLED, SETTLED))
    after = _cached(root, now=SETTLED + 1.5)
    assert set(computed) == {"a1", "a2"}
    assert after["a2"] != before["a2"]
    assert after == _versions(root)


def _damage_reads(text: str) -> str:
    data = json.loads(text)
    if "signature" in data:  # the no-op file: make it miss, so the reads file is used
        return json.dumps({**data, "signature": None})
    assets = {
        name: [identity, version, [-1, 10**6]]
        for name, (identity, version, _) in data["assets"].items()
    }
    return json.dumps({**data, "assets": assets})


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "[1, 2]",
        lambda text: json.dumps(
            {key: ([] if key != "key" else v) for key, v in json.loads(text).items()}
        ),
        lambda text: json.dumps({**json.loads(text), "key": "0.0.1|(3, 9)"}),
        _damage_reads,
    ],
    ids=[
        "truncated",
        "not-an-object",
        "wrong-types",
        "other-assetflow-version",
        "bad-read-indexes",
    ],
)
def test_cached_code_versions_recompute_after_a_damaged_cache(
    tmp_path, computed, damage: Callable[[str], str]
):
    root = _write(tmp_path, CACHE_PROJECT)
    first = _cached(root)
    for name in (CACHE_FILE, READS_FILE):
        path = root / ".assetflow" / "cache" / name
        path.write_text(damage(path.read_text()))
    computed.clear()
    assert _cached(root) == first
    assert set(computed) == set(first)


def test_cached_code_versions_write_nothing_without_a_state_folder(tmp_path):
    root = _write(tmp_path, CACHE_PROJECT)
    loaded = assetflow.load(root)
    versions = cached_code_versions(
        loaded.graph,
        loaded.project.package,
        assets_dir=loaded.config.assets_dir,
        cache_dir=loaded.config.state_dir / "cache",
    )
    assert versions == _versions(root)
    assert not loaded.config.state_dir.exists()


@pytest.mark.parametrize("module", ["code_tree", "values", "bytecode"])
def test_tracing_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"assetflow.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_cached_code_versions_reuse_a_trace_through_an_import_inside_a_function(tmp_path, computed):
    files = {
        "assetflow.toml": 'assets = "assets"\n',
        "assets/a.py": "from assetflow import asset\n\n\n@asset\ndef a1():\n"
        "    from ._lib import scale\n\n    return scale(1)\n",
        "assets/_lib.py": "def scale(x):\n    return x * 2\n",
    }
    root = _write(tmp_path, files)
    first = _cached(root)
    computed.clear()
    # A new load has not imported _lib: only a1's body does, when it runs.
    assert _cached(root) == first and computed == []
    _edit(root / "assets" / "_lib.py", "x * 2", "x * 3")
    assert _cached(root) != first and computed == ["a1"]
