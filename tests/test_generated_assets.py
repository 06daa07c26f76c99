"""Generated assets and checks: each one computes with its own value, or the project is refused.

Issue 20: assets made in a loop read the loop's last value when they run, so
``show age`` printed the ``son`` column. The promise tested here, over several
ways of writing a family of assets: a declaration whose function reads a name
rebound after it was made (a loop variable, read as a module name or captured
from an enclosing function) is a definition error naming the file, the asset
and the fix; the two usual fixes (a parameter default, a factory function,
``functools.partial``) give each asset its own value, and its code version
includes that value, so changing it makes exactly that asset stale. A check is
registered wherever it is made, and over-long names are refused at load (issue 12).

Each project has one source ``raw_data`` (``data/raw.csv``: columns ``name``,
``age``, ``son``) and a family of assets, each selecting one column of it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result
from conftest import stored_value

from assetflow.cli import main

CSV = "name,age,son\nA,30,x\nB,40,y\n"
COLUMNS = {"name": ["A", "B"], "age": [30, 40], "son": ["x", "y"]}
HEADER = (
    "import functools\n\nimport pyarrow as pa\n\nfrom assetflow import asset, check, source\n\n"
    'raw_data = source("data/raw.csv")\n'
    'COLS = {"first": "age", "second": "son"}\n\n'
)


def _project(root: Path, files: dict[str, str]) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text(CSV)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    for rel, text in files.items():
        path = root / "assets" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _run(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(root)], env=env)


def _json(root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = _run(root, *args, "--format", "json", env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _statuses(root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    doc = _json(root, "status", env=env)
    return {a["name"]: a["status"] for a in doc["assets"]}  # type: ignore[attr-defined, index]


def _column(root: Path, asset: str) -> tuple[str, list[object]]:
    """The one column ``asset`` stored: its name and values."""
    value = stored_value(root, asset)
    assert isinstance(value, pa.Table), value
    assert value.num_columns == 1, value.column_names
    return value.column_names[0], value.column(0).to_pylist()


# Families written the usual ways, each correct: every asset binds its own column.
# Each reads COLS = {"first": "age", "second": "son"}; the edit changes "second".
ACCEPTED = {
    "loop-over-list-with-a-default": (
        "for _name in ['first', 'second']:\n"
        "    def _extract(raw_data: pa.Table, _c: str = COLS[_name]) -> pa.Table:\n"
        "        return raw_data.select([_c])\n"
        "    globals()[_name] = asset(name=_name)(_extract)\n"
    ),
    "loop-over-dict-items-with-a-default": (
        "for _name, _col in COLS.items():\n"
        "    def _extract(raw_data: pa.Table, col=_col) -> pa.Table:\n"
        "        return raw_data.select([col])\n"
        "    asset(name=_name)(_extract)\n"  # not bound to a module name: still declared
    ),
    "comprehension-of-lambdas-with-a-default": (
        "_family = [\n"
        "    asset(name=n)(lambda raw_data, c=c: raw_data.select([c])) for n, c in COLS.items()\n"
        "]\n"
    ),
    "while-loop-with-a-keyword-only-default": (
        "_names = list(COLS)\n_i = 0\nwhile _i < len(_names):\n"
        "    def _extract(raw_data: pa.Table, *, col: str = COLS[_names[_i]]) -> pa.Table:\n"
        "        return raw_data.select([col])\n"
        "    asset(name=_names[_i])(_extract)\n"
        "    _i += 1\n"
    ),
    "factory-with-a-closure": (
        "def make(name, col):\n"
        "    @asset(name=name)\n"
        "    def extract(raw_data: pa.Table) -> pa.Table:\n"
        "        return raw_data.select([col])\n\n"
        "    return extract\n\n\n"
        'first = make("first", COLS["first"])\n'
        'second = make("second", COLS["second"])\n'
    ),
    "factory-called-in-a-comprehension": (
        "def make(name, col):\n"
        "    def extract(raw_data: pa.Table) -> pa.Table:\n"
        "        return raw_data.select([col])\n\n"
        "    return asset(name=name)(extract)\n\n\n"
        "_family = [make(n, c) for n, c in COLS.items()]\n"
    ),
    "factory-in-a-helper-module": (
        "from ._factory import make\n\nfor _n, _c in COLS.items():\n    make(_n, _c)\n"
    ),
    "factory-with-partial": (
        "def _pick(raw_data: pa.Table, col: str) -> pa.Table:\n"
        "    return raw_data.select([col])\n\n\n"
        "def make(name, col):\n"
        "    return asset(name=name)(functools.partial(_pick, col=col))\n\n\n"
        "for _n, _c in COLS.items():\n    make(_n, _c)\n"
    ),
    "partial-in-a-loop": (
        "def _pick(col: str, raw_data: pa.Table) -> pa.Table:\n"
        "    return raw_data.select([col])\n\n\n"
        "for _n, _c in COLS.items():\n"
        "    asset(name=_n)(functools.partial(_pick, _c))\n"
    ),
}
FACTORY = (
    "import pyarrow as pa\n\nfrom assetflow import asset\n\n\n"
    "def make(name, col):\n"
    "    @asset(name=name)\n"
    "    def extract(raw_data: pa.Table) -> pa.Table:\n"
    "        return raw_data.select([col])\n\n"
    "    return extract\n"
)
# Where the code version follows the values alone, an edit of one leaves the others fresh.
# A function defined in a loop is versioned with the whole loop statement, which reads COLS.
PRECISE = {
    "factory-with-a-closure",
    "factory-called-in-a-comprehension",
    "factory-in-a-helper-module",
    "factory-with-partial",
    "partial-in-a-loop",
}


def _files(shape: str) -> dict[str, str]:
    files = {"family.py": HEADER + ACCEPTED[shape]}
    if shape == "factory-in-a-helper-module":
        files["_factory.py"] = FACTORY
    return files


@pytest.mark.parametrize("shape", list(ACCEPTED))
def test_each_generated_asset_computes_with_its_own_value(tmp_path, shape):
    root = _project(tmp_path / "p", _files(shape))
    doc = _json(root, "materialize")
    assert {a["name"] for a in doc["assets"]} == {"first", "second"}  # type: ignore[attr-defined]
    assert _column(root, "first") == ("age", COLUMNS["age"])
    assert _column(root, "second") == ("son", COLUMNS["son"])


@pytest.mark.parametrize("shape", list(ACCEPTED))
def test_changing_a_bound_value_makes_its_asset_stale(tmp_path, shape):
    files = _files(shape)
    root = _project(tmp_path / "p", files)
    _json(root, "materialize")
    family = root / "assets" / "family.py"
    family.write_text(family.read_text().replace('"second": "son"', '"second": "name"'))
    status = _statuses(root)
    assert status["second"] == "stale"
    if shape in PRECISE:
        assert status["first"] == "fresh"
    _json(root, "materialize")
    assert _column(root, "second") == ("name", COLUMNS["name"])
    assert _column(root, "first") == ("age", COLUMNS["age"])
    assert set(_statuses(root).values()) == {"fresh"}
    # The same files built from scratch store the same values.
    scratch = _project(tmp_path / "scratch", {**files, "family.py": family.read_text()})
    _json(scratch, "materialize")
    for name in ("first", "second"):
        assert _column(scratch, name) == _column(root, name)


@pytest.mark.parametrize(
    ("shape", "rel"),
    [("factory-with-a-closure", "family.py"), ("factory-in-a-helper-module", "_factory.py")],
)
def test_editing_the_factory_makes_its_whole_family_stale(tmp_path, shape, rel):
    root = _project(tmp_path / "p", _files(shape))
    _json(root, "materialize")
    factory = root / "assets" / rel
    factory.write_text(factory.read_text().replace("select([col])", "select([col]).slice(0, 1)"))
    assert _statuses(root) == {"raw_data": "fresh", "first": "stale", "second": "stale"}
    _json(root, "materialize")
    assert _column(root, "first") == ("age", [30])
    assert _column(root, "second") == ("son", ["x"])


def test_a_captured_value_from_the_environment_is_seen_on_the_no_op_path(tmp_path):
    """Files unchanged, a factory's argument changed: the fast path must not vouch for it."""
    body = (
        "import os\n\n\ndef make(name, col):\n"
        "    @asset(name=name)\n"
        "    def extract(raw_data: pa.Table) -> pa.Table:\n"
        "        return raw_data.select([col])\n\n"
        "    return extract\n\n\n"
        'first = make("first", "age")\n'
        'second = make("second", os.environ.get("SECOND_COLUMN", "son"))\n'
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    old = time.time() - 60  # older than the cache's racy window, so it vouches for the files
    for path in (root / "assets").rglob("*"):
        os.utime(path, (old, old))
    env = {"SECOND_COLUMN": "son"}
    _json(root, "materialize", env=env)
    assert _statuses(root, env) == {"raw_data": "fresh", "first": "fresh", "second": "fresh"}
    env = {"SECOND_COLUMN": "name"}
    assert _statuses(root, env) == {"raw_data": "fresh", "first": "fresh", "second": "stale"}
    _json(root, "materialize", env=env)
    assert _column(root, "second") == ("name", COLUMNS["name"])


# Families that would compute with the loop's last value: refused, naming file, asset and fix.
REFUSED = {
    "issue-20-loop-over-list": (
        "for _col in ['age', 'son']:\n"
        "    def _extract(raw_data: pa.Table) -> pa.Table:\n"
        "        return raw_data.select([_col])\n"
        "    globals()[_col] = asset(name=_col)(_extract)\n",
        "asset 'age' reads '_col'",
    ),
    "loop-over-dict-items": (
        "for _name, _col in COLS.items():\n"
        "    def _extract(raw_data: pa.Table) -> pa.Table:\n"
        "        return raw_data.select([_col])\n"
        "    asset(name=_name)(_extract)\n",
        "asset 'first' reads '_col'",
    ),
    "comprehension-of-lambdas": (
        "_family = [\n"
        "    asset(name=n)(lambda raw_data: raw_data.select([c])) for n, c in COLS.items()\n"
        "]\n",
        "asset 'first' reads 'c'",
    ),
    "while-loop": (
        "_names = list(COLS)\n_i = 0\nwhile _i < len(_names):\n"
        "    def _extract(raw_data: pa.Table) -> pa.Table:\n"
        "        return raw_data.select([COLS[_names[_i]]])\n"
        "    asset(name=_names[_i])(_extract)\n"
        "    _i += 1\n",
        "asset 'first' reads '_i'",
    ),
    "factory-with-a-loop-inside": (
        "def make_all(cols):\n"
        "    for name, col in cols.items():\n"
        "        @asset(name=name)\n"
        "        def extract(raw_data: pa.Table) -> pa.Table:\n"
        "            return raw_data.select([col])\n\n\n"
        "make_all(COLS)\n",
        "asset 'first' reads 'col'",
    ),
    "reassigned-constant": (
        "COLUMN = 'age'\n\n\n@asset\ndef first(raw_data: pa.Table) -> pa.Table:\n"
        "    return raw_data.select([COLUMN])\n\n\nCOLUMN = 'son'\n",
        "asset 'first' reads 'COLUMN'",
    ),
    "check-in-a-loop": (
        "@asset\ndef first(raw_data: pa.Table) -> pa.Table:\n    return raw_data\n\n\n"
        "for _col in ['age', 'son']:\n"
        "    def _has(value):\n        return _col in value.column_names\n"
        "    check('first', name=f'has_{_col}')(_has)\n",
        "check 'has_age' of 'first' reads '_col'",
    ),
}


@pytest.mark.parametrize(("body", "words"), REFUSED.values(), ids=list(REFUSED))
def test_a_declaration_reading_a_rebound_name_is_refused(tmp_path, body, words):
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    result = _run(root, "materialize")
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("error: assets/family.py:"), message
    assert words in message
    assert "rebinds after the declaration" in message and "factory function" in message
    assert len(message.splitlines()) == 1
    assert not (root / ".assetflow" / "data").exists()  # nothing ran


def test_names_bound_after_the_declaration_for_the_first_time_are_fine(tmp_path):
    """A helper defined below the asset that uses it is the common case, not a rebinding."""
    body = (
        "@asset\ndef first(raw_data: pa.Table) -> pa.Table:\n"
        "    return _pick(raw_data, COLUMN)\n\n\n"
        "def _pick(table, col):\n    return table.select([col])\n\n\nCOLUMN = 'age'\n"
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    _json(root, "materialize")
    assert _column(root, "first") == ("age", COLUMNS["age"])


CHECKED = HEADER + (
    "def make(name, col):\n"
    "    @asset(name=name)\n"
    "    def extract(raw_data: pa.Table) -> pa.Table:\n"
    "        return raw_data.select([col])\n\n"
    "    return extract\n\n\n"
    "for _n, _c in COLS.items():\n    make(_n, _c)\n\n\n"
    "def _has_rows(value):\n    return value.num_rows > {rows}\n\n\n"
    "for _n in COLS:\n    check(_n, name='has_rows')(_has_rows)\n"
)


def test_checks_made_in_a_loop_run(tmp_path):
    """A check no module name holds is registered, not dropped: failing, it fails its asset."""
    root = _project(tmp_path / "p", {"family.py": CHECKED.replace("{rows}", "5")})
    result = _run(root, "materialize", "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    outcomes = {a["name"]: a["outcome"] for a in doc["assets"]}
    assert outcomes == {"first": "failed", "second": "failed"}, doc
    passing = _project(tmp_path / "ok", {"family.py": CHECKED.replace("{rows}", "1")})
    doc = _json(passing, "materialize")
    assert {a["outcome"] for a in doc["assets"]} == {"materialized"}  # type: ignore[attr-defined]
    import duckdb

    with duckdb.connect(str(passing / ".assetflow" / "state.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM check_results").fetchone()
    assert rows == (2,)


def test_a_check_made_by_a_factory_checks_its_own_value(tmp_path):
    body = (
        "def make(name, col):\n"
        "    @asset(name=name)\n"
        "    def extract(raw_data: pa.Table) -> pa.Table:\n"
        "        return raw_data.select([col])\n\n"
        "    @check(name, name='has_column')\n"
        "    def has_column(value):\n"
        "        return value.column_names == [EXPECTED[name]]\n\n"
        "    return extract\n\n\n"
        "EXPECTED = {'first': 'age', 'second': 'name'}\n"
        "for _n, _c in COLS.items():\n    make(_n, _c)\n"
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    result = _run(root, "materialize", "--format", "json")
    assert result.exit_code == 1, result.output
    outcomes = {a["name"]: a["outcome"] for a in json.loads(result.stdout)["assets"]}
    assert outcomes == {"first": "materialized", "second": "failed"}


def test_a_default_that_names_an_asset_is_refused(tmp_path):
    body = (
        "@asset\ndef first(raw_data: pa.Table) -> pa.Table:\n    return raw_data\n\n\n"
        "@asset\ndef second(raw_data: pa.Table, first=None) -> pa.Table:\n    return raw_data\n"
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    result = _run(root, "status")
    assert result.exit_code == 2, result.output
    assert "assets/family.py:" in result.output
    assert "parameter 'first' has a default" in result.output
    assert "remove the default" in result.output


@pytest.mark.parametrize(
    ("files", "where"),
    [
        (
            {"family.py": HEADER + f"@asset(name='{'a' * 300}')\ndef f():\n    return 1\n"},
            "family.py",
        ),
        (
            {
                "family.py": HEADER
                + "def make(n):\n    return asset(name=n)(lambda: 1)\n\n\nmake('b' * 129)\n"
            },
            "family.py:",
        ),
        (
            {"family.py": HEADER + f"other = source('data/raw.csv', name='{'c' * 200}')\n"},
            "family.py",
        ),
        ({f"{'d' * 129}.sql": "SELECT 1 AS x\n"}, "d" * 129),
    ],
    ids=["asset", "factory-made-asset", "source", "sql-file"],
)
def test_over_long_names_are_a_definition_error(tmp_path, files, where):
    root = _project(tmp_path / "p", files)
    result = _run(root, "materialize")
    assert result.exit_code == 2, result.output
    assert "at most 128 characters" in result.output
    assert where in result.output
    assert "File name too long" not in result.output


def test_the_longest_name_materializes(tmp_path):
    name = "n" * 128
    body = (
        f"@asset(name='{name}')\ndef f(raw_data: pa.Table) -> pa.Table:\n"
        "    return raw_data.select(['age'])\n"
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    _json(root, "materialize")
    assert _column(root, name) == ("age", COLUMNS["age"])


def test_a_source_made_in_a_loop_needs_a_name(tmp_path):
    unnamed = HEADER + "for _p in ['data/raw.csv']:\n    source(_p)\n"
    root = _project(tmp_path / "p", {"family.py": unnamed})
    result = _run(root, "status")
    assert result.exit_code == 2, result.output
    assert "not assigned to a module-level name" in result.output and "name=" in result.output
    named = HEADER + (
        "for _n in ['raw_b']:\n    source('data/raw.csv', name=_n)\n\n\n"
        "@asset\ndef first(raw_b: pa.Table) -> pa.Table:\n    return raw_b.select(['son'])\n"
    )
    root = _project(tmp_path / "named", {"family.py": named})
    _json(root, "materialize")
    assert _column(root, "first") == ("son", COLUMNS["son"])


def test_generated_assets_run_in_worker_processes(tmp_path):
    """A worker re-imports the file and finds assets no module name holds."""
    root = _project(tmp_path / "p", _files("factory-called-in-a-comprehension"))
    doc = _json(root, "materialize", "--executor", "processes", "-j", "2")
    assert {a["outcome"] for a in doc["assets"]} == {"materialized"}  # type: ignore[attr-defined]
    assert _column(root, "second") == ("son", COLUMNS["son"])


def test_the_issue_loop_with_pandas_gives_each_asset_its_column(tmp_path):
    """The issue's own form, fixed with a bound default, in pandas."""
    pytest.importorskip("pandas")
    body = (
        "import pandas as pd\n\n"
        "for _col in ['age', 'son']:\n"
        "    def _extract(raw_data: pd.DataFrame, _c: str = _col) -> pd.DataFrame:\n"
        "        return raw_data[[_c]]\n"
        "    globals()[_col] = asset(name=_col)(_extract)\n"
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    _json(root, "materialize")
    shown = _run(root, "show", "age")
    assert shown.exit_code == 0, shown.output
    assert "age" in shown.output and "son" not in shown.output.replace("son (", "")
    assert _column(root, "age") == ("age", COLUMNS["age"])
    assert _column(root, "son") == ("son", COLUMNS["son"])


def test_copying_a_project_keeps_its_generated_assets(tmp_path):
    """Nothing about a declaration depends on where the project lives."""
    root = _project(tmp_path / "p", _files("factory-in-a-helper-module"))
    _json(root, "materialize")
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    doc = _json(copy, "materialize")
    assert {a["outcome"] for a in doc["assets"]} == {"fresh"}  # type: ignore[attr-defined]


def test_rebinding_checks_the_names_read_not_attributes_spelled_alike(tmp_path):
    """``raw_data.select`` is an attribute: a module name ``select`` rebound later is not read."""
    body = (
        "select = 'first'\n\n\n"
        "@asset\ndef first(raw_data: pa.Table) -> pa.Table:\n"
        "    return raw_data.select(['age'])\n\n\n"
        "select = 'second'\n"
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    _json(root, "materialize")
    assert _column(root, "first") == ("age", COLUMNS["age"])


def test_a_decorated_asset_reading_a_loop_variable_is_refused(tmp_path):
    """The check looks through functools.wraps layers to the function that reads the name."""
    body = (
        "def _logged(fn):\n"
        "    @functools.wraps(fn)\n"
        "    def wrapper(raw_data):\n"
        "        return fn(raw_data)\n"
        "    return wrapper\n\n\n"
        "for _col in ['age', 'son']:\n"
        "    @_logged\n"
        "    def _extract(raw_data: pa.Table) -> pa.Table:\n"
        "        return raw_data.select([_col])\n"
        "    asset(name=_col)(_extract)\n"
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    result = _run(root, "status")
    assert result.exit_code == 2, result.output
    assert "asset 'age' reads '_col'" in result.output


def test_defaults_are_constants_beside_the_context_and_upstreams(tmp_path):
    body = (
        "@asset\n"
        "def first(raw_data: pa.Table, context=None, *, col: str = 'son') -> pa.Table:\n"
        "    assert context is not None and context.asset == 'first'\n"
        "    return raw_data.select([col])\n"
    )
    root = _project(tmp_path / "p", {"family.py": HEADER + body})
    listed = _json(root, "list")
    first = next(a for a in listed["assets"] if a["name"] == "first")  # type: ignore[attr-defined]
    assert first["upstream"] == ["raw_data"], first
    _json(root, "materialize")
    assert _column(root, "first") == ("son", COLUMNS["son"])


@pytest.mark.parametrize("module", ["definition", "trace"])
def test_declaring_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"assetflow.{module}"))
    assert result.attempted > 0 and result.failed == 0
