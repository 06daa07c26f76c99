"""Checks that count: a changed check is re-evaluated on current data, without recomputing.

Issue 20: a check's code or arguments are not part of its asset's code version
(they do not change the data), so changing them left the old verdict standing.
Now a changed check gives its (fresh) asset the cause ``checks changed``, and
the next ``materialize`` evaluates the checks against the current data: the
asset is not recomputed (no new materialization), a passing verdict is recorded
for the same materialization, an error-severity failure marks the asset failed
and keeps its data current. Checks work on values that are not tables, a check
that raises is that check's error, and lineage lists each asset's checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import stored_value

from assetflow.cli import main

CSV = "k,v\n1,10\n2,20\n3,30\n"
ASSETS = (
    "import pandas as pd\nimport pyarrow as pa\n\nfrom assetflow import asset, check, source\n\n"
    'raw = source("data/raw.csv")\n\n\n'
    '@asset(checks=["row_count(> 0)", "not_null(v)"])\n'
    "def orders(raw: pa.Table) -> pa.Table:\n"
    "    global CALLS\n"
    "    return raw\n\n\n"
    "@asset\n"
    "def total(orders: pa.Table) -> int:\n"
    '    return sum(orders.column("v").to_pylist())\n\n\n'
    "@asset\n"
    "def values(orders: pd.DataFrame) -> pd.Series:\n"
    '    return orders["v"]\n\n\n'
    "@asset\n"
    "def after(total: int) -> int:\n"
    "    return total + 1\n\n\n"
    '@check("total")\n'
    "def positive(total: int) -> bool:\n"
    "    return total > 0\n\n\n"
    '@check("values", severity="warn")\n'
    "def increasing(values: pd.Series) -> bool:\n"
    "    return bool(values.is_monotonic_increasing)\n"
)


def _project(root: Path, assets: str = ASSETS) -> Path:
    pytest.importorskip("pandas")
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text(CSV)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    (root / "assets").mkdir()
    (root / "assets" / "a.py").write_text(assets)
    return root


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(root)])


def _outcomes(root: Path) -> dict[str, str]:
    result = _run(root, "materialize", "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return {a["name"]: a["outcome"] for a in json.loads(result.stdout)["assets"]}


def _statuses(root: Path) -> dict[str, dict[str, object]]:
    result = _run(root, "status", "--format", "json")
    assert result.exit_code == 0, result.output
    return {a["name"]: a for a in json.loads(result.stdout)["assets"]}


def _checks(root: Path, asset: str) -> list[tuple[int, int, str, bool, str]]:
    query = (
        "SELECT materialization_id, run_id, check_name, passed, message FROM state.check_results "
        f"WHERE asset = '{asset}' ORDER BY run_id, check_name"
    )
    result = _run(root, "sql", query, "--format", "json")
    assert result.exit_code == 0, result.output
    return [tuple(r) for r in json.loads(result.stdout)["rows"]]


def _current_id(root: Path, asset: str) -> int:
    query = (
        "SELECT max(id) FROM state.materializations "
        f"WHERE asset = '{asset}' AND outcome = 'materialized'"
    )
    result = _run(root, "sql", query, "--format", "json")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["rows"][0][0])


def _edit(root: Path, old: str, new: str) -> None:
    file = root / "assets" / "a.py"
    assert old in file.read_text()
    file.write_text(file.read_text().replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "asset"),
    [
        ("return total > 0", "return total >= 0", "total"),
        ('"row_count(> 0)"', '"row_count(> 1)"', "orders"),
        ("is_monotonic_increasing", "is_unique", "values"),
    ],
    ids=["python-check-code", "builtin-check-argument", "check-on-a-series"],
)
def test_changed_check_is_re_evaluated_without_recomputing(
    tmp_path: Path, old: str, new: str, asset: str
) -> None:
    root = _project(tmp_path)
    assert set(_outcomes(root).values()) == {"materialized"}
    before = _checks(root, asset)
    mat_id = _current_id(root, asset)
    assert all(s["status"] == "fresh" for s in _statuses(root).values())
    _edit(root, old, new)
    status = _statuses(root)[asset]
    assert status["status"] == "fresh"  # its data is what a build would make
    assert [c["kind"] for c in status["causes"]] == ["checks_changed"]  # type: ignore[union-attr]
    outcomes = _outcomes(root)
    assert set(outcomes.values()) == {"fresh"}, outcomes  # nothing recomputed
    assert _current_id(root, asset) == mat_id
    after = _checks(root, asset)
    new_rows = after[len(before) :]
    assert new_rows and all(r[0] == mat_id and r[1] == 2 and r[3] for r in new_rows)
    assert all(s["status"] == "fresh" for s in _statuses(root).values())
    assert set(_outcomes(root).values()) == {"fresh"}
    assert _checks(root, asset) == after  # not evaluated again


def test_changed_check_failing_marks_the_asset_failed_and_keeps_its_data(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _outcomes(root)
    _edit(root, "return total > 0", "return total > 1000")
    outcomes = _outcomes(root)
    assert outcomes["total"] == "failed"
    assert outcomes["after"] == "skipped"
    assert outcomes["orders"] == "fresh"
    assert stored_value(root, "total") == 60  # the current data stays current
    status = _statuses(root)["total"]
    assert status["status"] == "failed"
    # Fixing the check: the asset runs again and is fresh.
    _edit(root, "return total > 1000", "return total > 1")
    assert _outcomes(root)["total"] == "materialized"
    assert _statuses(root)["total"]["status"] == "fresh"


def test_unchanged_checks_are_not_evaluated_again(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _outcomes(root)
    before = {a: _checks(root, a) for a in ("orders", "total", "values")}
    _edit(root, "    global CALLS\n", "")  # the asset's code, not a check
    assert _outcomes(root)["orders"] == "materialized"
    assert len(_checks(root, "orders")) == len(before["orders"]) + 2
    assert _checks(root, "total") == before["total"]  # cut off: same data, same checks


def test_check_on_a_number_and_a_series(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _outcomes(root)
    assert [r[2:4] for r in _checks(root, "total")] == [("positive()", True)]
    assert [r[2:4] for r in _checks(root, "values")] == [("increasing()", True)]


@pytest.mark.parametrize(
    ("severity", "outcome"), [("error", "failed"), ("warn", "materialized")], ids=["error", "warn"]
)
def test_check_that_raises_is_that_checks_error(
    tmp_path: Path, severity: str, outcome: str
) -> None:
    text = ASSETS.replace('@check("total")', f'@check("total", severity="{severity}")').replace(
        "return total > 0", "return total / 0 > 1"
    )
    root = _project(tmp_path, text)
    result = _run(root, "materialize", "--format", "json")
    doc = {a["name"]: a for a in json.loads(result.stdout)["assets"]}
    assert doc["total"]["outcome"] == outcome
    rows = _checks(root, "total")
    assert [r[2:4] for r in rows] == [("positive()", False)]
    assert "positive() raised ZeroDivisionError: division by zero" in rows[0][4]
    if severity == "error":
        assert "positive() raised ZeroDivisionError" in doc["total"]["error"]


def test_lineage_lists_each_assets_checks(tmp_path: Path) -> None:
    root = _project(tmp_path)
    result = _run(root, "lineage", "--format", "json")
    assert result.exit_code == 0, result.output
    nodes = {n["name"]: n for n in json.loads(result.stdout)["nodes"]}
    assert [(c["name"], c["kind"], c["severity"]) for c in nodes["orders"]["checks"]] == [
        ("row_count(> 0)", "builtin", "error"),
        ("not_null(v)", "builtin", "error"),
    ]
    assert [(c["name"], c["kind"]) for c in nodes["total"]["checks"]] == [("positive()", "python")]
    assert nodes["total"]["checks"][0]["file"] == "assets/a.py"
    assert "checks" not in nodes["after"]


def test_dry_run_says_changed_checks_are_re_evaluated(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _outcomes(root)
    _edit(root, "return total > 0", "return total >= 0")
    result = _run(root, "materialize", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    plan = {a["name"]: a for a in json.loads(result.stdout)["assets"]}
    assert plan["total"]["action"] == "check"
    assert {a["action"] for n, a in plan.items() if n != "total"} == {"fresh"}


def test_re_evaluated_checks_show_in_text_output(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert set(_outcomes(root).values()) == {"materialized"}
    _edit(root, "return total > 0", "return total >= 0")
    result = _run(root, "materialize")
    assert result.exit_code == 0, result.output
    # Progress goes to stderr; the asset stays fresh, and its checks' line shows.
    lines = [line for line in result.stderr.splitlines() if line.startswith("check total:")]
    assert len(lines) == 1 and "positive" in lines[0], result.stderr
