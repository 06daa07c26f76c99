"""Run-time settings: declared with defaults in the config, overridden per environment and run.

Issue 20: an asset receives a setting by naming it as a parameter, and the
setting's value is part of that asset's code version, so changing it (``--set``
or ``ASSETFLOW_SET_<NAME>``) makes exactly its readers stale; what they store
equals a build from scratch with the same value. Global options (``--project``,
``--state``, ``--set``) work before the command name as well as after it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result
from conftest import stored_value

from assetflow.cli import main

CSV = "k,v\n1,10\n2,20\n3,30\n4,40\n"
CONFIG = 'assets = "assets"\n\n[settings]\nmin_v = 25\nlabel = "n"\nstrict = false\n'
ASSETS = (
    "import pyarrow as pa\nimport pyarrow.compute as pc\n\nfrom assetflow import asset, source\n\n"
    'raw = source("data/raw.csv")\n\n\n'
    "@asset\n"
    "def big(raw: pa.Table, min_v: int) -> pa.Table:\n"
    '    return raw.filter(pc.greater_equal(raw.column("v"), min_v))\n\n\n'
    "@asset\n"
    "def big_count(big: pa.Table) -> int:\n"
    "    return big.num_rows\n\n\n"
    "@asset\n"
    "def named(raw: pa.Table, label: str, strict: bool) -> str:\n"
    "    return f'{label}{raw.num_rows}{strict}'\n\n\n"
    "@asset\n"
    "def other(raw: pa.Table) -> int:\n"
    "    return raw.num_rows\n"
)
NAMES = {"big", "big_count", "named", "other"}


def _project(root: Path, config: str = CONFIG, assets: str = ASSETS) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text(CSV)
    (root / "assetflow.toml").write_text(config)
    (root / "assets").mkdir()
    (root / "assets" / "a.py").write_text(assets)
    return root


def _run(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, args, env=env)


def _ran(root: Path, *extra: str, env: dict[str, str] | None = None) -> set[str]:
    result = _run(["materialize", "--format", "json", "--project", str(root), *extra], env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    return {a["name"] for a in doc["assets"] if a["outcome"] == "materialized"}


def _stale(root: Path, *extra: str, env: dict[str, str] | None = None) -> set[str]:
    """The assets stale by a cause of their own; the rest are fresh or stale only upstream."""
    result = _run(["status", "--format", "json", "--project", str(root), *extra], env)
    assert result.exit_code == 0, result.output
    own = set()
    for a in json.loads(result.stdout)["assets"]:
        kinds = {c["kind"] for c in a["causes"]}
        if kinds - {"upstream_stale"}:
            assert kinds == {"code_changed"}, a
            own.add(a["name"])
    return own


def _same_as_scratch(root: Path, tmp: Path, *extra: str) -> None:
    scratch = _project(tmp / "scratch", (root / "assetflow.toml").read_text())
    _ran(scratch, *extra)
    for name in sorted(NAMES):
        ours, theirs = stored_value(root, name), stored_value(scratch, name)
        if isinstance(ours, pa.Table):
            assert isinstance(theirs, pa.Table) and ours.equals(theirs), name
        else:
            assert ours == theirs, name
    shutil.rmtree(scratch)


@pytest.mark.parametrize(
    ("override", "readers"),
    [
        (("--set", "min_v=15"), {"big"}),
        (("--set", "label=m"), {"named"}),
        (("--set", "strict=yes"), {"named"}),
        (("--set", "min_v=25"), set()),  # the default again: nothing changed
    ],
    ids=["int", "str", "bool", "same-value"],
)
def test_settings_changed_per_run_makes_only_its_readers_stale(
    tmp_path: Path, override: tuple[str, str], readers: set[str]
) -> None:
    root = _project(tmp_path / "p")
    assert _ran(root) == NAMES
    assert _stale(root, *override) == readers
    ran = _ran(root, *override)
    # big_count runs only if big's rows changed (early cutoff otherwise).
    assert readers <= ran <= readers | {"big_count"}
    assert _stale(root, *override) == set()
    _same_as_scratch(root, tmp_path, *override)
    # Without the override the default is back: its readers are stale again.
    assert _stale(root) == readers


def test_settings_environment_overrides_the_default_and_set_overrides_both(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path / "p")
    _ran(root)
    env = {"ASSETFLOW_SET_MIN_V": "35"}
    assert _stale(root, env=env) == {"big"}
    assert _ran(root, env=env) == {"big", "big_count"}
    assert stored_value(root, "big_count") == 1
    assert _ran(root, "--set", "min_v=15", env=env) == {"big", "big_count"}
    assert stored_value(root, "big_count") == 3


def test_settings_set_before_or_after_the_command_name(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    _ran(root)
    before = _run(["--project", str(root), "--set", "label=z", "materialize", "--format", "json"])
    assert before.exit_code == 0, before.output
    assert stored_value(root, "named") == "z4False"
    after = _run(["status", "--set", "label=z", "--format", "json", "--project", str(root)])
    assert after.exit_code == 0, after.output
    assert all(a["status"] == "fresh" for a in json.loads(after.stdout)["assets"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "nope=1"], "--set nope: no such setting"),
        (["--set", "min_v=abc"], "setting min_v must be an integer, not 'abc'"),
        (["--set", "strict=maybe"], "setting strict must be true or false"),
        (["--set", "min_v"], "write --set name=value"),
    ],
    ids=["unknown", "not-an-int", "not-a-bool", "no-equals"],
)
def test_settings_bad_override_is_a_usage_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    root = _project(tmp_path / "p")
    result = _run(["status", "--project", str(root), *args])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (CONFIG + "other = 1\n", "has the name of the setting 'other'"),
        ('assets = "assets"\n\n[settings]\nx = [1]\n', "must default to a string"),
        ('assets = "assets"\nsettings = 3\n', "'settings' must be a table"),
    ],
    ids=["asset-named-like-a-setting", "list-default", "not-a-table"],
)
def test_settings_bad_declaration_is_a_definition_error(
    tmp_path: Path, config: str, message: str
) -> None:
    root = _project(tmp_path / "p", config)
    result = _run(["status", "--project", str(root)])
    assert result.exit_code == 2
    assert message in result.output


def test_settings_processes_executor_receives_them(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert _ran(root, "--executor", "processes", "--set", "label=w") == NAMES
    assert stored_value(root, "named") == "w4False"


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "{root}", "status"],
        ["status", "--project", "{root}"],
        ["--project", "{root}", "list"],
        ["--project", "{root}", "--state", "{root}/st", "status"],
    ],
    ids=["project-before", "project-after", "before-list", "state-before"],
)
def test_global_options_before_or_after_the_command_name(tmp_path: Path, args: list[str]) -> None:
    root = _project(tmp_path / "p")
    result = _run([a.format(root=root) for a in args])
    assert result.exit_code == 0, result.output
    assert "big" in result.output
