"""A pandas index is stored as a column of its own name, or dropped when it is row numbers.

Issue 20: a DataFrame with an index was stored with a ``__index_level_0__``
column, which SQL assets and ``assetflow sql`` had to spell. A plain
``RangeIndex`` is dropped; any other index becomes columns named as pandas'
``reset_index`` names them.
"""

from __future__ import annotations

import pytest

from assetflow.storage import as_arrow

pd = pytest.importorskip("pandas")


@pytest.mark.parametrize(
    ("frame", "columns"),
    [
        (pd.DataFrame({"v": [1, 2]}), ["v"]),
        (pd.DataFrame({"v": [1, 2]}).set_index(pd.Index(["a", "b"], name="day")), ["day", "v"]),
        (pd.DataFrame({"v": [1, 2]}, index=["a", "b"]), ["index", "v"]),
        (pd.DataFrame({"v": [1, 2]}, index=pd.RangeIndex(5, 7)), ["index", "v"]),
        (
            pd.DataFrame(
                {"v": [1, 2]},
                index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", None]),
            ),
            ["k", "level_1", "v"],
        ),
        (pd.DataFrame({"v": [1, 2]}).groupby("v").size().to_frame("n"), ["v", "n"]),
    ],
    ids=["range-dropped", "named", "unnamed", "shifted-range", "multi", "groupby"],
)
def test_pandas_index_stored_as_named_columns(frame: object, columns: list[str]) -> None:
    table = as_arrow(frame)
    assert table is not None
    assert table.column_names == columns
    assert not any(name.startswith("__index_level") for name in table.column_names)


def test_pandas_index_named_like_a_column_keeps_the_data() -> None:
    frame = pd.DataFrame({"v": [1, 2]}, index=pd.Index([3, 4], name="v"))
    table = as_arrow(frame)
    assert table is not None and table.num_rows == 2
    assert sorted(table.column("v").to_pylist()) == [1, 2]


def test_pandas_index_is_a_column_for_sql_assets(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from assetflow.cli import main

    (tmp_path / "assetflow.toml").write_text('assets = "assets"\n')
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "a.py").write_text(
        "import pandas as pd\n\nfrom assetflow import asset\n\n\n"
        "@asset\ndef by_day() -> pd.DataFrame:\n"
        '    frame = pd.DataFrame({"day": ["a", "b", "a"], "v": [1, 2, 3]})\n'
        '    return frame.groupby("day")[["v"]].sum()\n'
    )
    (tmp_path / "assets" / "top.sql").write_text("SELECT day, v FROM by_day ORDER BY day")
    runner = CliRunner()
    result = runner.invoke(main, ["--project", str(tmp_path), "materialize"])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(main, ["--project", str(tmp_path), "show", "top", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["columns"] == ["day", "v"]
    assert doc["preview"] == [["a", 4], ["b", 2]]
