"""A family of assets from one function and a multi-output asset, edited in turn.

Issue 20: each member of a generated family and each output of a multi-output
asset is an asset of its own. After each edit, ``materialize`` runs exactly the
assets whose inputs or code changed (early cutoff stops the rest), and every
stored value equals what a build from scratch of the edited project stores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import stored_value

from assetflow.cli import main

CSV = "k,v\n" + "".join(f"{i},{i * 10}\n" for i in range(6))
FAMILY = 20
FACTORS = {f"m{i:02d}": i + 1 for i in range(FAMILY)}

FAMILY_PY = (
    "import pyarrow as pa\nimport pyarrow.compute as pc\n\nfrom assetflow import asset, source\n\n"
    'raw = source("data/raw.csv")\n'
    "FACTORS = {factors}\n\n\n"
    "def make(name, factor):\n"
    "    @asset(name=name)\n"
    "    def member(raw: pa.Table) -> pa.Table:\n"
    '        return pa.table({{"v": pc.multiply(raw.column("v"), factor)}})\n\n'
    "    return member\n\n\n"
    "for _name, _factor in FACTORS.items():\n"
    "    make(_name, _factor)\n"
)

SPLIT_PY = (
    "import pyarrow as pa\nimport pyarrow.compute as pc\n\nfrom assetflow import asset, source\n\n"
    'raw = source("data/raw.csv")\n\n\n'
    '@asset(outputs=["low", "mid", "high"])\n'
    "def split(raw: pa.Table):\n"
    '    v = raw.column("v")\n'
    "    low = raw.filter(pc.less(v, 20))\n"
    "    mid = raw.filter(pc.and_(pc.greater_equal(v, 20), pc.less(v, 40)))\n"
    "    high = raw.filter(pc.greater_equal(v, 40))\n"
    "    return low, mid, high\n\n\n"
    "@asset\n"
    "def low_rows(low: pa.Table) -> int:\n"
    "    return low.num_rows\n\n\n"
    "@asset\n"
    "def mid_rows(mid: pa.Table) -> int:\n"
    "    return mid.num_rows\n\n\n"
    "@asset\n"
    "def high_rows(high: pa.Table) -> int:\n"
    "    return high.num_rows\n"
)


def _family_py(factors: dict[str, int]) -> str:
    # Each member's downstream sums it: a plain asset per member, named <member>_sum.
    sums = "".join(
        f"\n\n@asset\ndef {n}_sum({n}: pa.Table) -> int:\n"
        f'    return sum({n}.column("v").to_pylist())\n'
        for n in factors
    )
    return FAMILY_PY.format(factors=repr(factors)) + sums


def _project(root: Path, files: dict[str, str]) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text(CSV)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    (root / "assets").mkdir()
    for rel, text in files.items():
        (root / "assets" / rel).write_text(text)
    return root


def _materialize(root: Path) -> dict[str, str]:
    result = CliRunner().invoke(main, ["materialize", "--format", "json", "--project", str(root)])
    assert result.exit_code == 0, result.output
    return {a["name"]: a["outcome"] for a in json.loads(result.stdout)["assets"]}


def _ran(outcomes: dict[str, str]) -> set[str]:
    return {n for n, o in outcomes.items() if o == "materialized"}


def _same_as_scratch(root: Path, tmp: Path, names: set[str]) -> None:
    scratch = tmp / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(root / "assets", scratch / "assets")
    shutil.copytree(root / "data", scratch / "data")
    shutil.copy(root / "assetflow.toml", scratch / "assetflow.toml")
    _materialize(scratch)
    for name in sorted(names):
        ours, theirs = stored_value(root, name), stored_value(scratch, name)
        if isinstance(ours, pa.Table):
            assert isinstance(theirs, pa.Table)
            assert ours.equals(theirs), name
        else:
            assert ours == theirs, name


def test_family_of_twenty_each_member_edited_in_turn(tmp_path: Path) -> None:
    factors = dict(FACTORS)
    root = _project(tmp_path / "p", {"family.py": _family_py(factors)})
    names = set(factors) | {f"{n}_sum" for n in factors}
    assert _ran(_materialize(root)) == names
    for name in factors:
        factors[name] += 100  # a bound value of one member only
        (root / "assets" / "family.py").write_text(_family_py(factors))
        assert _ran(_materialize(root)) == {name, f"{name}_sum"}, name
        _same_as_scratch(root, tmp_path, names)
    assert _ran(_materialize(root)) == set()


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        (("pc.less(v, 20)", "pc.less(v, 10)"), {"low"}),
        (("pc.less(v, 40)))", "pc.less(v, 30)))"), {"mid"}),
        (("pc.greater_equal(v, 40))\n", "pc.greater_equal(v, 50))\n"), {"high"}),
        (("    return low, mid, high\n", "    return low, mid, high  # same\n"), set()),
    ],
    ids=["first", "second", "third", "comment-only"],
)
def test_three_output_asset_each_output_edited_in_turn(
    tmp_path: Path, edit: tuple[str, str], changed: set[str]
) -> None:
    root = _project(tmp_path / "p", {"split.py": SPLIT_PY})
    names = {"split", "low", "mid", "high", "low_rows", "mid_rows", "high_rows"}
    assert _ran(_materialize(root)) == names
    file = root / "assets" / "split.py"
    old, new = edit
    assert old in file.read_text()
    file.write_text(file.read_text().replace(old, new))
    ran = _ran(_materialize(root))
    if not changed:
        assert ran == set()
    else:
        # The function runs, each output is re-read from it, and only the changed
        # output's downstream runs: the others come out the same (early cutoff).
        assert ran == {"split", "low", "mid", "high"} | {f"{c}_rows" for c in changed}
    _same_as_scratch(root, tmp_path, names)
    assert _ran(_materialize(root)) == set()


def test_three_output_asset_each_edited_in_turn_in_one_project(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"split.py": SPLIT_PY})
    names = {"split", "low", "mid", "high", "low_rows", "mid_rows", "high_rows"}
    _materialize(root)
    file = root / "assets" / "split.py"
    for old, new, output in [
        ("pc.less(v, 20)", "pc.less(v, 10)", "low"),
        ("pc.less(v, 40)))", "pc.less(v, 30)))", "mid"),
        ("pc.greater_equal(v, 40))\n", "pc.greater_equal(v, 30))\n", "high"),
    ]:
        file.write_text(file.read_text().replace(old, new))
        ran = _ran(_materialize(root))
        assert ran - {"split", "low", "mid", "high"} == {f"{output}_rows"}, output
        _same_as_scratch(root, tmp_path, names)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("    return {'low': raw}\n", "must return a mapping with the keys"),
        ("    return raw\n", "must return a mapping with the keys"),
    ],
    ids=["missing-key", "not-a-mapping"],
)
def test_multi_output_asset_returning_the_wrong_shape_fails(
    tmp_path: Path, body: str, message: str
) -> None:
    text = SPLIT_PY.replace("    return low, mid, high\n", body)
    root = _project(tmp_path / "p", {"split.py": text})
    result = CliRunner().invoke(main, ["materialize", "--project", str(root)])
    assert result.exit_code == 1
    assert message in result.output


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ('["low", "low"]', "is listed twice"),
        ('["split", "low"]', "has the name of its asset"),
        ('["1x"]', "is not a valid asset name"),
    ],
    ids=["twice", "own-name", "bad-name"],
)
def test_multi_output_bad_outputs_are_definition_errors(
    tmp_path: Path, outputs: str, message: str
) -> None:
    text = SPLIT_PY.replace('["low", "mid", "high"]', outputs)
    root = _project(tmp_path / "p", {"split.py": text})
    result = CliRunner().invoke(main, ["status", "--project", str(root)])
    assert result.exit_code == 2
    assert message in result.output
