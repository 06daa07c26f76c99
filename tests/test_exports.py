"""Exports: files an asset writes outside the state folder are tracked like its stored data.

Issue 20: ``rm out/*.csv`` left the exporting asset fresh, a wrong skip. An
asset declared with ``@asset(exports=...)`` writes its files after its checks
pass; a deleted or changed file makes it stale (with the cause in words), and
the next ``materialize`` rewrites it. Changing the writer or its options changes
the asset's code version.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assetflow.cli import main

CSV = "id,amount\n1,10\n2,20\n"
HEADER = (
    "import pyarrow as pa\n\nfrom assetflow import asset, export, source\n\n"
    'raw = source("data/raw.csv")\n\n\n'
)
ASSETS = HEADER + (
    '@asset(exports=["out/orders.csv", export("out/orders.tsv", _write_tsv, sep="\\t")])\n'
    "def orders(raw: pa.Table) -> pa.Table:\n"
    "    return raw\n\n\n"
    "@asset\n"
    "def total(orders: pa.Table) -> int:\n"
    '    return sum(orders.column("amount").to_pylist())\n\n\n'
    '@asset(exports="out/total.json")\n'
    "def total_copy(total: int) -> int:\n"
    "    return total\n"
)
WRITER = (
    "def _write_tsv(table: pa.Table, path, sep):\n"
    "    rows = [sep.join(table.column_names)]\n"
    "    rows += [sep.join(str(v) for v in r.values()) for r in table.to_pylist()]\n"
    '    path.write_text("\\n".join(rows) + "\\n")\n\n\n'
)


def _project(root: Path, assets: str = ASSETS, writer: str = WRITER) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text(CSV)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    (root / "assets").mkdir()
    (root / "assets" / "orders.py").write_text(assets.replace(HEADER, HEADER + writer))
    return root


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(root)])


def _materialized(root: Path) -> list[str]:
    result = _run(root, "materialize", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    return sorted(a["name"] for a in doc["assets"] if a["outcome"] == "materialized")


def _status(root: Path, name: str) -> tuple[str, list[str]]:
    result = _run(root, "status", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (found,) = [a for a in doc["assets"] if a["name"] == name]
    return found["status"], [c if isinstance(c, str) else c["detail"] for c in found["causes"]]


def test_exports_written_after_materialize(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert _materialized(root) == ["orders", "total", "total_copy"]
    assert (root / "out" / "orders.csv").read_text() == '"id","amount"\n1,10\n2,20\n'
    assert (root / "out" / "orders.tsv").read_text() == "id\tamount\n1\t10\n2\t20\n"
    assert json.loads((root / "out" / "total.json").read_text()) == 30
    assert _materialized(root) == []
    assert not [p for p in (root / "out").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("path", "damage", "cause"),
    [
        ("orders.csv", "delete", "export out/orders.csv is gone"),
        ("orders.tsv", "change", "export out/orders.tsv was changed"),
        ("total.json", "delete", "export out/total.json is gone"),
    ],
    ids=["deleted-csv", "changed-custom-writer", "deleted-json-of-a-number"],
)
def test_exports_damaged_file_makes_its_asset_stale_and_is_rewritten(
    tmp_path: Path, path: str, damage: str, cause: str
) -> None:
    root = _project(tmp_path)
    _materialized(root)
    target = root / "out" / path
    good = target.read_bytes()
    if damage == "delete":
        target.unlink()
    else:
        target.write_text("edited by hand\n")
    exporter = "total_copy" if path == "total.json" else "orders"
    status, causes = _status(root, exporter)
    assert status == "stale"
    assert cause in causes
    # Only the exporter runs; its value comes out the same, so its downstream is cut off.
    assert _materialized(root) == [exporter]
    assert target.read_bytes() == good
    assert _status(root, exporter)[0] == "fresh"


def test_exports_touch_is_not_a_change(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _materialized(root)
    target = root / "out" / "orders.csv"
    os.utime(target, ns=(1, 1))
    assert _status(root, "orders")[0] == "fresh"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('sep="\\t"', 'sep=";"'),
        (
            "    rows = [sep.join(table.column_names)]\n",
            "    rows = [sep.join(table.column_names[::-1])]\n",
        ),
        ('"out/orders.csv", ', '"out/orders2.csv", '),
    ],
    ids=["writer-option", "writer-code", "export-path"],
)
def test_exports_writer_or_options_changed_makes_the_exporter_stale(
    tmp_path: Path, old: str, new: str
) -> None:
    root = _project(tmp_path)
    _materialized(root)
    file = root / "assets" / "orders.py"
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))
    status, causes = _status(root, "orders")
    assert status == "stale", causes
    assert _materialized(root) == ["orders"]


def test_exports_not_written_when_a_check_fails(tmp_path: Path) -> None:
    root = _project(
        tmp_path, ASSETS.replace("@asset(exports=", '@asset(checks=["row_count(> 5)"], exports=')
    )
    result = _run(root, "materialize")
    assert result.exit_code == 1
    assert not (root / "out" / "orders.csv").exists()


def test_exports_writer_error_fails_the_asset(tmp_path: Path) -> None:
    broken = WRITER.replace("    rows = [", "    raise OSError('no room')\n    rows = [", 1)
    root = _project(tmp_path, writer=broken)
    result = _run(root, "materialize", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    (orders,) = [a for a in doc["assets"] if a["name"] == "orders"]
    assert orders["outcome"] == "failed"
    assert "export out/orders.tsv: OSError: no room" in orders["error"]
    assert _status(root, "orders")[0] in ("missing", "failed")


def test_exports_pandas_writer_method(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    text = HEADER.replace(
        "import pyarrow as pa\n", "import pandas as pd\nimport pyarrow as pa\n"
    ) + (
        '@asset(exports=export("out/o.csv", pd.DataFrame.to_csv, index=False))\n'
        "def orders(raw: pa.Table) -> pa.Table:\n"
        "    return raw\n"
    )
    root = _project(tmp_path, text)
    assert _materialized(root) == ["orders"]
    assert (root / "out" / "o.csv").read_text() == CSV


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ('"/tmp/x.csv"', "must be a relative path inside the project"),
        ('"../x.csv"', "must be a relative path inside the project"),
        ('".assetflow/x.csv"', "must be a relative path inside the project"),
        ('"out/x.xlsx"', "has no writer and no suffix"),
        ('["out/x.csv", "out/x.csv"]', "is listed twice"),
        ("42", "takes paths or export(...) values"),
    ],
    ids=["absolute", "dotdot", "hidden", "unknown-suffix", "twice", "not-a-path"],
)
def test_exports_bad_option_is_a_definition_error(
    tmp_path: Path, option: str, message: str
) -> None:
    text = (
        HEADER
        + f"@asset(exports={option})\ndef orders(raw: pa.Table) -> pa.Table:\n    return raw\n"
    )
    root = _project(tmp_path, text)
    result = _run(root, "status")
    assert result.exit_code == 2
    assert message in result.output


def test_exports_written_under_the_processes_executor(tmp_path: Path) -> None:
    # The value comes back as stored data, not in memory: the coordinator loads it.
    root = _project(tmp_path)
    result = _run(root, "materialize", "--executor", "processes", "--format", "json")
    assert result.exit_code == 0, result.output
    assert (root / "out" / "orders.csv").read_text() == '"id","amount"\n1,10\n2,20\n'
    assert (root / "out" / "orders.tsv").read_text() == "id\tamount\n1\t10\n2\t20\n"
    assert json.loads((root / "out" / "total.json").read_text()) == 30
