"""A file source read by a Python function of the user's choosing (``read=``).

Issue 20: DuckDB types some files differently from what a pipeline needs (ids
with leading zeros read as integers). ``source(path, read=...)`` reads the file
with a Python function instead, for Python and SQL assets alike; the function
and its bound arguments are part of the source's version, so changing them
makes its readers stale.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import stored_value

from assetflow.cli import main

pd = pytest.importorskip("pandas")

CSV = "id,amount\n007,10\n042,20\n"
ASSETS = (
    "import functools\n\nimport pandas as pd\nimport pyarrow as pa\n\n"
    "from assetflow import asset, source\n\n"
    'raw = source("data/raw.csv", read=functools.partial(pd.read_csv, dtype={"id": str}))\n\n\n'
    "@asset\n"
    "def ids(raw: pd.DataFrame) -> list:\n"
    '    return list(raw["id"])\n\n\n'
    "@asset\n"
    "def other() -> int:\n"
    "    return 1\n"
)
SQL = "SELECT id, amount * 2 AS doubled FROM raw ORDER BY id\n"


def _project(root: Path, assets: str = ASSETS) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text(CSV)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    (root / "assets").mkdir()
    (root / "assets" / "a.py").write_text(assets)
    (root / "assets" / "doubled.sql").write_text(SQL)
    return root


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(root)])


def _ran(root: Path) -> set[str]:
    result = _run(root, "materialize", "--format", "json")
    assert result.exit_code == 0, result.output
    return {
        a["name"] for a in json.loads(result.stdout)["assets"] if a["outcome"] == "materialized"
    }


def test_source_read_by_a_python_function_for_python_and_sql_assets(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert _ran(root) == {"ids", "other", "doubled"}
    assert stored_value(root, "ids") == ["007", "042"]
    doubled = stored_value(root, "doubled")
    assert doubled.column("id").to_pylist() == ["007", "042"]  # type: ignore[attr-defined]
    assert _ran(root) == set()


def test_source_read_changed_options_make_its_readers_stale(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _ran(root)
    file = root / "assets" / "a.py"
    file.write_text(file.read_text().replace('dtype={"id": str}', 'dtype={"id": int}'))
    assert _ran(root) == {"ids", "doubled"}
    assert stored_value(root, "ids") == [7, 42]


def test_source_read_that_raises_fails_its_readers(tmp_path: Path) -> None:
    text = ASSETS.replace(
        'read=functools.partial(pd.read_csv, dtype={"id": str})',
        "read=lambda path: 1 / 0",
    )
    root = _project(tmp_path, text)
    result = _run(root, "materialize", "--format", "json")
    assert result.exit_code == 1
    doc = {a["name"]: a for a in json.loads(result.stdout)["assets"]}
    assert "source 'raw': its reader raised ZeroDivisionError" in doc["ids"]["error"]
    assert doc["other"]["outcome"] == "materialized"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ('read=pd.read_csv, delim=";"', "read= replaces DuckDB's reader"),
        ('read="pandas"', "read= takes a function of the path"),
    ],
    ids=["with-duckdb-options", "not-callable"],
)
def test_source_read_bad_option_is_a_definition_error(
    tmp_path: Path, option: str, message: str
) -> None:
    text = ASSETS.replace('read=functools.partial(pd.read_csv, dtype={"id": str})', option)
    root = _project(tmp_path, text)
    result = _run(root, "status")
    assert result.exit_code == 2
    assert message in result.output
