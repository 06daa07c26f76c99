"""Errors of the user's environment or usage, never blamed on assetflow (issue 12).

A full disk, a read-only or forbidden folder, stored data that is gone or
broken, a check naming a column the data dropped, and a bad ``--limit`` each
give one sentence naming the file or asset and the fix, with the exit code
for what it is: 3 the environment, 2 usage, 1 a failed asset. Never
"internal error", never a traceback; and the state stays consistent, so the
next run after the fix finishes.

A full disk is a small tmpfs and a read-only folder a read-only bind mount:
both need root (as CI has) and are skipped without it. A folder this user may
not write is reproduced everywhere: as root, in a subprocess without the
capability that lets root write anywhere.
"""

from __future__ import annotations

import doctest
import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import PROJECTS, stored_value

import assetflow.errors
from assetflow.cli import main
from assetflow.errors import WRITE_ERRNOS, DiskError, StorageError, disk_error

BIG_ASSET = """\
import os

import pyarrow as pa
from assetflow import asset


@asset
def big():
    # Random bytes do not compress: this is about 8 MB on disk.
    return pa.table({"b": [os.urandom(1000) for _ in range(8000)]})
"""

# About 10 MB of Parquet: md5 digests in hex compress to about half.
BIG_SQL_ASSET = (
    "SELECT i, md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS h FROM range(300000) AS t(i)\n"
)


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _json(*args: str) -> Any:
    result = _cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _one_error_line(result: Result) -> str:
    """The stderr of a command that failed for a reason of the user's: one ``error:`` line."""
    lines = result.stderr.strip().splitlines()
    assert lines, result.output
    last = lines[-1]
    assert last.startswith("error: "), result.stderr
    assert "internal error" not in result.stderr and "a bug in assetflow" not in result.stderr
    assert "Traceback" not in result.output
    return last


def _statuses(root: Path) -> dict[str, str]:
    doc = _json("status", "--project", str(root))
    return {a["name"]: a["status"] for a in doc["assets"]}


def _built(parent: Path) -> Path:
    root = parent / "basic"
    shutil.copytree(PROJECTS / "basic", root, ignore=shutil.ignore_patterns("__pycache__"))
    first = _cli("materialize", "--project", str(root))
    assert first.exit_code == 0, first.output
    return root


def _mount(*args: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs: big enough for a built project, too small for ``BIG_ASSET``."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)):
        pytest.skip("a small disk is a tmpfs mount, which needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _fill(disk: Path) -> Path:
    """Write a file that takes every free byte of ``disk``."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    return filler


# -- the mapping, one place -----------------------------------------------------


def test_errors_docstring_examples_run():
    assert doctest.testmod(assetflow.errors).failed == 0


@pytest.mark.parametrize(
    ("error", "named", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/s/f.parquet"), "/s/f.parquet", "full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "/s/f"), "/s/f", "quota"),
        (OSError(errno.EROFS, "Read-only file system", "/p/run.lock"), "/p/run.lock", "read-only"),
        (PermissionError(errno.EACCES, "Permission denied", "/p/.assetflow"), "/p", "permission"),
        (OSError(errno.EFBIG, "File too large"), "/fallback", "ulimit"),
        (
            # DuckDB's words for a full disk at commit, with the file in quotes.
            RuntimeError(
                "TransactionContext Error: Failed to commit: Could not write file "
                '"/p/.assetflow/state.duckdb.wal": No space left on device'
            ),
            "/p/.assetflow/state.duckdb.wal",
            "full",
        ),
        (
            # pyarrow's: an errno, no file name.
            OSError(28, "Error writing bytes to file. Detail: [errno 28] No space left on device"),
            "/fallback",
            "full",
        ),
    ],
    ids=["enospc", "edquot", "erofs", "eacces", "efbig", "duckdb-wal", "pyarrow"],
)
def test_disk_error_names_the_path_and_the_fix(error, named, words):
    found = disk_error(error, "/fallback")
    assert isinstance(found, DiskError)
    text = str(found)
    assert named in text and words in text and text.endswith(".") and "\n" not in text


def test_disk_error_follows_causes_and_ignores_the_rest():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/s/x")
        except OSError as inner:
            raise StorageError("could not store x") from inner
    except StorageError as outer:
        assert "/s/x" in str(disk_error(outer))
    assert disk_error(ValueError("No files found that match the pattern")) is None
    assert disk_error(FileNotFoundError(errno.ENOENT, "No such file", "/x")) is None
    # A query reading a forbidden file of the user's is not the disk refusing a write.
    forbidden = RuntimeError('IO Error: Cannot open file "/etc/shadow": Permission denied')
    assert disk_error(forbidden) is not None
    assert disk_error(forbidden, errnos=WRITE_ERRNOS) is None


def test_disk_error_offers_another_state_folder_only_for_the_state_folder():
    def said(path: str) -> str:
        error = OSError(errno.EROFS, "Read-only file system", path)
        return str(disk_error(error, state_dir="/p/.assetflow"))

    assert "--state DIR" in said("/p/.assetflow/run.lock")
    assert "--state DIR" in said("/p/.assetflow")
    assert "--state DIR" not in said("/p/shop")  # `init` into a read-only folder, say
    no_file = OSError(errno.ENOSPC, "No space left on device")
    assert str(disk_error(no_file, state_dir="/p/.assetflow")).startswith(
        "the disk holding /p/.assetflow is full"
    )


# -- a full disk ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("executor", "file", "text"),
    [
        ("threads", "big.py", BIG_ASSET),
        ("processes", "big.py", BIG_ASSET),
        ("threads", "big.sql", BIG_SQL_ASSET),
    ],
    ids=["python-threads", "python-processes", "sql"],
)
def test_full_disk_writing_asset_data_is_one_sentence_and_exit_3(small_disk, executor, file, text):
    root = _built(small_disk)
    (root / "assets" / file).write_text(text)
    result = _cli("materialize", "--executor", executor, "--project", str(root))
    line = _one_error_line(result)
    assert result.exit_code == 3
    assert "is full" in line and str(root / ".assetflow") in line and "free some space" in line
    # Nothing half-written became current; what was fresh still is.
    statuses = _statuses(root)
    assert statuses.pop("big") == "missing"
    assert set(statuses.values()) == {"fresh"}
    assert not [p for p in (root / ".assetflow" / "data").rglob("*") if p.name.startswith(".tmp")]
    # With space, the next run builds it.
    assert _mount("-o", "remount,size=64m", str(small_disk))
    again = _cli("materialize", "--project", str(root))
    assert again.exit_code == 0, again.output
    assert set(_statuses(root).values()) == {"fresh"}
    assert stored_value(root, "big").num_rows >= 8000


def test_full_disk_committing_the_state_is_one_sentence_and_exit_3(small_disk):
    root = _built(small_disk)
    filler = _fill(small_disk)
    result = _cli("materialize", "--force", "--project", str(root))
    line = _one_error_line(result)
    assert result.exit_code == 3
    assert "is full" in line and str(root / ".assetflow") in line
    filler.unlink()
    # The state was left consistent: readable, and the next run finishes.
    assert set(_statuses(root).values()) == {"fresh"}
    again = _cli("materialize", "--force", "--project", str(root))
    assert again.exit_code == 0, again.output
    assert stored_value(root, "doubled").num_rows == 3
    assert _json("show", "doubled", "--project", str(root))["rows"] == 3


# -- a read-only or forbidden folder ---------------------------------------------


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A built project, then mounted read-only over itself."""
    root = _built(tmp_path)
    if not _mount("--bind", str(root), str(root)):
        pytest.skip("a read-only folder is a read-only bind mount, which needs root")
    try:
        assert _mount("-o", "remount,bind,ro", str(root))
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)


def test_read_only_project_refuses_a_run_in_one_sentence(read_only):
    result = _cli("materialize", "--force", "--project", str(read_only))
    line = _one_error_line(result)
    assert result.exit_code == 3
    assert "read-only file system" in line and str(read_only / ".assetflow") in line
    assert "--state" in line


def test_read_only_project_still_reads(read_only):
    """Read-only commands never write: they work on a read-only checkout."""
    root = str(read_only)
    assert set(_statuses(read_only).values()) == {"fresh"}
    assert _json("show", "doubled", "--project", root)["rows"] == 3
    assert _json("history", "base", "--project", root)["materializations"]
    assert _json("runs", "--project", root)["runs"]
    assert _json("sql", "SELECT count(*) FROM doubled", "--project", root)["rows"] == [[3]]


def test_read_only_project_never_built_refuses_in_one_sentence(tmp_path):
    root = tmp_path / "fresh"
    shutil.copytree(PROJECTS / "basic", root, ignore=shutil.ignore_patterns("__pycache__"))
    if not _mount("--bind", str(root), str(root)):
        pytest.skip("a read-only folder is a read-only bind mount, which needs root")
    try:
        assert _mount("-o", "remount,bind,ro", str(root))
        result = _cli("materialize", "--project", str(root))
        line = _one_error_line(result)
        assert result.exit_code == 3
        assert "read-only file system" in line and str(root) in line
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)


def _as_unprivileged(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m assetflow ARGS`` unable to write where its user may not.

    Root may write anywhere (the DAC override capability): as root, run without
    it, so that permissions bind as they do for everybody else.
    """
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root, a forbidden folder needs setpriv to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETFLOW_")}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "assetflow", *args],
        cwd=cwd,
        env={**env, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_forbidden_state_folder_is_one_sentence_and_exit_3(tmp_path):
    root = _built(tmp_path)
    state = root / ".assetflow"
    modes = {p: p.stat().st_mode for p in [state, *state.rglob("*")]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        result = _as_unprivileged("materialize", "--force", cwd=root)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert result.returncode == 3, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "permission denied" in line and str(state) in line
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    # Nothing was changed: the next run with permissions finishes.
    assert set(_statuses(root).values()) == {"fresh"}
    assert _cli("materialize", "--force", "--project", str(root)).exit_code == 0


def test_forbidden_data_folder_of_a_sql_asset_is_one_sentence_and_exit_3(tmp_path):
    root = _built(tmp_path)
    folder = root / ".assetflow" / "data" / "doubled"
    folder.chmod(0o555)
    try:
        result = _as_unprivileged("materialize", "--force", "doubled", cwd=root)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 3, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {folder} is not accessible"), line
    assert "DuckDB error" not in result.stderr and "internal error" not in result.stderr


def test_sql_asset_reading_a_forbidden_file_of_the_user_fails_only_that_asset(tmp_path):
    """A query's own read is the asset's failure (exit 1), not the disk stopping the run."""
    root = _built(tmp_path)
    secret = tmp_path / "secret" / "s.csv"
    secret.parent.mkdir()
    secret.write_text("a,b\n1,2\n")
    secret.chmod(0)
    (root / "assets" / "peek.sql").write_text(f"SELECT * FROM read_csv('{secret}')\n")
    (root / "assets" / "other.py").write_text(
        "from assetflow import asset\n\n\n@asset\ndef other():\n    return 1\n"
    )
    result = _as_unprivileged("materialize", "--format", "json", cwd=root)
    assert result.returncode == 1, result.stderr
    outcomes = {a["name"]: a for a in json.loads(result.stdout)["assets"]}
    assert (
        outcomes["peek"]["outcome"] == "failed" and "Permission denied" in outcomes["peek"]["error"]
    )
    assert outcomes["other"]["outcome"] == "materialized"


# -- stored data that is gone or broken --------------------------------------------


def _current_file(root: Path, asset: str) -> Path:
    doc = _json("history", asset, "--project", str(root))
    return root / ".assetflow" / doc["materializations"][0]["location"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _corrupt(path: Path) -> None:
    """Overwrite bytes in the middle, keeping the size (so the file still looks present)."""
    data = bytearray(path.read_bytes())
    data[10:60] = b"x" * 50
    path.write_bytes(bytes(data))


# What `show` says (exit 3) is what Storage.load says of the same file: it is gone,
# or cannot be read; and how to rebuild it.
BROKEN = {
    "deleted": (Path.unlink, "is gone", "assetflow materialize"),
    "truncated": (_truncate, "cannot be read", "assetflow materialize --force"),
    "corrupted": (_corrupt, "cannot be read", "assetflow materialize --force"),
}


@pytest.mark.parametrize("how", list(BROKEN), ids=list(BROKEN))
def test_show_of_broken_stored_data_names_the_file_and_the_fix(tmp_path, how):
    root = _built(tmp_path)
    path = _current_file(root, "doubled")
    damage, says, fix = BROKEN[how]
    damage(path)
    result = _cli("show", "doubled", "--project", str(root))
    line = _one_error_line(result)
    assert result.exit_code == 3
    assert str(path) in line and says in line and fix in line


def test_sql_over_deleted_stored_data_does_not_blame_the_query(tmp_path):
    root = _built(tmp_path)
    _current_file(root, "doubled").unlink()
    result = _cli("sql", "SELECT * FROM doubled", "--project", str(root))
    line = _one_error_line(result)
    assert "fix the SQL" not in line
    assert "doubled" in line and "assetflow materialize" in line
    assert result.exit_code == 3


def test_deleted_stored_data_is_missing_and_rebuilt(tmp_path):
    """The planner sees a file that is gone: the asset is missing, never a wrong skip."""
    root = _built(tmp_path)
    (root / "assets" / "total.sql").write_text("SELECT sum(doubled) AS s FROM doubled\n")
    assert _cli("materialize", "--project", str(root)).exit_code == 0
    _current_file(root, "doubled").unlink()
    statuses = _statuses(root)
    assert statuses["doubled"] == "missing" and statuses["total"] == "stale"
    why = _cli("status", "--why", "doubled", "--project", str(root))
    assert "is gone" in why.output
    result = _cli("materialize", "--project", str(root))
    assert result.exit_code == 0, result.output
    assert set(_statuses(root).values()) == {"fresh"}
    assert stored_value(root, "total").to_pylist() == [{"s": 12}]


@pytest.mark.parametrize(
    "reader",
    [
        "python",
        "sql",
    ],
)
def test_broken_upstream_data_fails_the_reader_naming_the_data_not_its_code(tmp_path, reader):
    root = _built(tmp_path)
    if reader == "sql":
        (root / "assets" / "total.sql").write_text("SELECT sum(doubled) AS s FROM doubled\n")
        name = "total"
    else:
        name = "report"
    assert _cli("materialize", "--project", str(root)).exit_code == 0
    _corrupt(_current_file(root, "doubled"))
    result = _cli("materialize", "--force", name, "--format", "json", "--project", str(root))
    assert result.exit_code == 1, result.output
    [failed] = json.loads(result.stdout)["assets"]
    error = failed["error"]
    assert failed["outcome"] == "failed" and "\n" not in error
    assert "doubled" in error and "cannot be read" in error
    assert "assetflow materialize --force" in error and "DuckDB error" not in error


# -- a check naming a column the data does not have ---------------------------------


def test_check_of_a_dropped_column_fails_the_asset_in_one_sentence(tmp_path):
    root = tmp_path / "dropped"
    (root / "assets").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nassets = "assets"\n')
    (root / "assets" / "orders.py").write_text(
        "import pyarrow as pa\nfrom assetflow import asset\n\n\n"
        '@asset(checks=["not_null(order_id)", "unique(Amount)"])\n'
        "def orders():\n"
        '    return pa.table({"id": [1, 2], "amount": [3, 4]})\n'
    )
    result = _cli("materialize", "--format", "json", "--project", str(root))
    assert result.exit_code == 1, result.output
    [failed] = json.loads(result.stdout)["assets"]
    assert failed["outcome"] == "failed"
    assert failed["error"] == (
        "check not_null(order_id): column 'order_id' is not in the new data "
        "(its columns: id, amount); fix the check at assets/orders.py:5 or return that column"
    )
    assert "Binder Error" not in result.output


def test_unknown_schema_option_is_a_definition_error(tmp_path):
    """assetflow has no declared schema: ``schema=`` is an unknown option, exit 2."""
    root = tmp_path / "schema"
    (root / "assets").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nassets = "assets"\n')
    (root / "assets" / "a.py").write_text(
        "from assetflow import asset\n\n\n@asset(schema={'x': 'int'})\ndef a():\n    return 1\n"
    )
    result = _cli("materialize", "--project", str(root))
    line = _one_error_line(result)
    assert result.exit_code == 2
    assert "assets/a.py:4" in line and "'schema'" in line


# -- --limit ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _built(tmp_path_factory.mktemp("limits"))
    assert _cli("materialize", "--project", str(root)).exit_code == 0
    return root


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "--limit", "-5"),
        ("runs", "--limit", "0"),
        ("history", "base", "--limit", "-1"),
        ("history", "base", "--limit", "0"),
        ("show", "doubled", "--limit", "-1"),
        ("runs", "--limit", "many"),
    ],
    ids=["runs-negative", "runs-zero", "history-negative", "history-zero", "show-negative", "nan"],
)
def test_bad_limit_is_a_usage_error(two_runs, args):
    result = _cli(*args, "--project", str(two_runs))
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--limit'" in result.stderr
    assert "internal error" not in result.output and "Binder" not in result.output


def test_limit_beyond_any_count_means_all(two_runs):
    huge = "99999999999999999999"
    root = str(two_runs)
    assert len(_json("runs", "--limit", huge, "--project", root)["runs"]) == 2
    assert len(_json("history", "base", "--limit", huge, "--project", root)["materializations"])
    assert len(_json("show", "doubled", "--limit", huge, "--project", root)["preview"]) == 3


def test_limit_counts(two_runs):
    root = str(two_runs)
    assert [r["run_id"] for r in _json("runs", "--limit", "1", "--project", root)["runs"]] == [2]
    shown = _json("show", "doubled", "--limit", "0", "--project", root)
    assert shown["columns"] == ["n", "doubled"] and shown["preview"] == []


# -- a recorded schema that does not fit the data -----------------------------------


def _set_recorded_schema(root: Path, asset: str, value: str) -> None:
    """What a hostile or clumsy hand does to ``state.materializations.schema`` with DuckDB."""
    import duckdb

    with duckdb.connect(str(root / ".assetflow" / "state.duckdb")) as con:
        con.execute("UPDATE materializations SET schema = ? WHERE asset = ?", [value, asset])


@pytest.mark.parametrize("command", ["status", "show", "materialize"])
def test_malformed_recorded_schema_is_not_an_internal_error(tmp_path, command):
    root = _built(tmp_path)
    _set_recorded_schema(root, "doubled", "[1, 2]")
    args = [command, "doubled"] if command == "show" else [command]
    result = _cli(*args, "--project", str(root))
    assert "internal error" not in result.output and "Traceback" not in result.output
    if result.exit_code != 0:
        line = _one_error_line(result)
        assert result.exit_code == 3 and "state.duckdb" in line and "doubled" in line


@pytest.mark.parametrize("command", ["show", "sql"])
def test_recorded_schema_naming_a_dropped_column_names_the_data(tmp_path, command):
    """The recorded types name a column the file does not have: the stored data is at fault."""
    root = _built(tmp_path)
    path = _current_file(root, "doubled")
    _set_recorded_schema(root, "doubled", '[["gone", "HUGEINT"]]')
    args = ["show", "doubled"] if command == "show" else ["sql", "SELECT * FROM doubled"]
    result = _cli(*args, "--project", str(root))
    line = _one_error_line(result)
    assert result.exit_code == 3
    assert str(path) in line and "assetflow materialize --force doubled" in line
