"""``assetflow watch``: the real command in a subprocess, edited the way editors edit.

Each end-to-end test reads the watcher's report through a pipe with a reader
thread and waits for a line with a deadline; nothing sleeps to assert. Every
rebuild's report ends with a line starting with ``✓`` or ``✗``.
"""

from __future__ import annotations

import doctest
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from conftest import run_assetflow, stored_value

import assetflow.changes
import assetflow.watch
from assetflow.changes import ChangeFilter, Scope, ignored_name
from assetflow.project import load_config
from assetflow.watch import schema_diff

DEADLINE = 40.0  # seconds: generous for a loaded 2-core machine, but a deadline


class Watch:
    """``assetflow watch ARGS`` in a subprocess, its report (on stderr) read line by line."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("ASSETFLOW_")}
        for name in [k for k, v in (env or {}).items() if v == ""]:  # "" unsets a variable
            inherited.pop(name, None)
            env = {k: v for k, v in (env or {}).items() if k != name}
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assetflow", "watch", *args],
            cwd=root,
            env={
                **inherited,
                "NO_COLOR": "1",
                "PYTHONUNBUFFERED": "1",
                "PYTHONIOENCODING": "utf-8",
                **(env or {}),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []  # stderr: the report
        self.stdout: list[str] = []  # stays empty: it is for data
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.readers = [
            threading.Thread(target=self._read, args=(stream, is_stdout), daemon=True)
            for stream, is_stdout in ((self.proc.stdout, True), (self.proc.stderr, False))
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, stream: IO[str], is_stdout: bool) -> None:
        with stream:
            for line in stream:
                line = line.rstrip("\n")
                if is_stdout:
                    self.stdout.append(line)
                else:
                    self.output.append(line)
                    self.lines.put(line)
        if not is_stdout:
            self.lines.put(None)

    def line(self, matches: Callable[[str], bool], timeout: float = DEADLINE) -> str:
        """The next line that ``matches``, waiting at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                message = f"no matching line in {timeout} s:\n{self.transcript()}"
                raise AssertionError(message) from None
            if line is None:
                raise AssertionError(f"watch ended:\n{self.transcript()}")
            if matches(line):
                return line

    def report(self, timeout: float = DEADLINE) -> list[str]:
        """The next rebuild's report: its lines up to and including its final line."""
        lines: list[str] = []

        def collect(line: str) -> bool:
            lines.append(line)
            return line.startswith(("✓", "✗"))

        self.line(collect, timeout)
        return lines

    def report_where(self, wanted: Callable[[list[str]], bool]) -> list[str]:
        """The first of the next reports that is ``wanted``, within the deadline."""
        deadline = time.monotonic() + DEADLINE
        while True:
            report = self.report(max(deadline - time.monotonic(), 0.01))
            if wanted(report):
                return report

    def transcript(self) -> str:
        return "\n".join(self.output) + "\n--- stdout ---\n" + "\n".join(self.stdout)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=DEADLINE)
        self._join()
        return code

    def _join(self) -> None:
        for reader in self.readers:
            reader.join(timeout=DEADLINE)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE)
        self._join()


def ran(report: list[str]) -> set[str]:
    return {line.split()[1] for line in report if line.startswith("  ran  ")}


def header(report: list[str]) -> str:
    """What changed, as the report's first line says it (without the time)."""
    return report[0].split("] ", 1)[1]


def save(path: Path, text: str, *, how: str = "in-place") -> None:
    """Write ``path`` the way an editor does: in place, or to a temporary file then renamed."""
    if how == "in-place":
        path.write_text(text)
    else:
        tmp = path.with_name(f".{path.name}.swp" if how == "swap" else path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def edit(path: Path, old: str, new: str, *, how: str = "in-place") -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    save(path, text.replace(old, new), how=how)


@pytest.fixture
def shop(make_project: Callable[[str], Path]) -> Path:
    return make_project("watch_shop")


def start(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Watch, list[str]]:
    """Start watching and wait for the initial build's report."""
    watch = Watch(root, *args, env=env)
    try:
        watch.line(lambda line: line.startswith("watching "))
        return watch, watch.report()
    except BaseException:
        watch.__exit__()  # no process left behind
        raise


# -- end to end ---------------------------------------------------------------------------


def test_watch_initial_build_then_body_edit_reruns_it_and_downstream_only(shop: Path) -> None:
    with Watch(shop) as w:
        w.line(lambda line: line.startswith("watching "))
        first = w.report()
        assert header(first) == "initial build"
        assert ran(first) == {"orders", "order_count", "revenue", "independent"}
        assert first[-1].startswith("✓ rebuilt 4 assets in ")

        edit(shop / "assets" / "orders.py", "RATE))", "RATE + 1))")
        second = w.report()
        assert header(second) == "assets/orders.py changed"
        assert ran(second) == {"orders", "order_count", "revenue"}
        assert any("orders" in line and "3 rows" in line for line in second)
        assert any("checks: ✓ not_null(id)" in line for line in second)
        assert second[-1].startswith("✓ rebuilt 3 assets in ")

        # An editor that writes a swap file and renames it over the original.
        edit(shop / "assets" / "other.py", "return 42", "return 43", how="swap")
        third = w.report()
        assert header(third) == "assets/other.py changed"
        assert ran(third) == {"independent"}


def test_watch_comment_only_edit_runs_nothing(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        edit(shop / "assets" / "orders.py", "# conversion", "# conversion, now commented more")
        report = w.report()
        assert header(report) == "assets/orders.py changed"
        assert ran(report) == set()
        assert report[-1].startswith("✓ nothing to do (")


def test_watch_new_sql_file_is_added_and_a_deleted_one_breaks_its_dependents(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        big = shop / "assets" / "big_orders.sql"
        save(big, "SELECT * FROM orders WHERE amount > 30\n", how="tmp")
        added = w.report()
        assert header(added) == "assets/big_orders.sql changed"
        assert ran(added) == {"big_orders"}
        assert any("big_orders" in line and "2 rows" in line for line in added)

        save(shop / "assets" / "big_count.sql", "SELECT count(*) AS n FROM big_orders\n")
        assert ran(w.report()) == {"big_count"}

        big.unlink()
        broken = w.report()
        assert header(broken) == "assets/big_orders.sql (removed) changed"
        assert broken[-1].startswith("✗ assets/big_count.sql") and "big_orders" in broken[-1]
        assert len(broken) == 2  # the header and the one-line error

        (shop / "assets" / "big_count.sql").unlink()  # still watching: this fixes the project
        assert w.report()[-1].startswith("✓ nothing to do")


def test_watch_syntax_error_is_one_line_and_the_next_good_save_recovers(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        path = shop / "assets" / "orders.py"
        good = path.read_text()
        save(path, good.replace("RATE = 2", "RATE = (2"))
        broken = w.report()
        assert broken[-1].startswith("✗ assets/orders.py:")
        assert "syntax error" in broken[-1]
        assert "Traceback" not in w.transcript()

        save(path, good.replace("RATE = 2", "RATE = 5"), how="swap")
        fixed = w.report()
        assert fixed[-1].startswith("✓ rebuilt")
        assert ran(fixed) == {"orders", "order_count", "revenue"}


def test_watch_started_on_a_broken_project_waits_for_the_fix(
    make_project: Callable[[str], Path],
) -> None:
    root = make_project("py_syntax")
    with Watch(root) as w:
        w.line(lambda line: line.startswith("watching "))
        first = w.report()
        assert first[-1].startswith("✗ assets/broken.py:5: syntax error"), first
        edit(root / "assets" / "broken.py", "def broken(fine)", "def broken(fine):")
        fixed = w.report()
        assert ran(fixed) == {"fine", "broken"}


def test_watch_source_data_change_reruns_its_downstream(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        data = shop / "data" / "orders.csv"
        save(data, data.read_text() + "4,5\n", how="tmp")
        report = w.report()
        assert header(report) == "data/orders.csv changed"
        assert ran(report) == {"orders", "order_count", "revenue"}
        assert any("orders" in line and "4 rows" in line for line in report)


def test_watch_source_folder_removed_and_made_again_is_watched_again(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        data = shop / "data"
        text = (data / "orders.csv").read_text()
        shutil.rmtree(data)
        gone = w.report()
        assert any(line.startswith("  FAIL orders: ") for line in gone), gone
        data.mkdir()
        (data / "orders.csv").write_text(text + "4,5\n")
        w.report_where(lambda report: "orders" in ran(report))  # the folder, then maybe the file
        save(data / "orders.csv", text, how="tmp")  # watched again: this save is seen
        assert "orders" in ran(w.report())


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"assets/a.sql": "SELECT * FROM b", "assets/b.sql": "SELECT * FROM a"}, "cycle"),
        ({"assetflow.toml": 'assets = "assets"\nkeep_versions = "many"\n'}, "keep_versions"),
        ({"assets/x.py": "import no_such_module_here\n"}, "ModuleNotFoundError"),
    ],
    ids=["cycle", "bad-config", "import-error"],
)
def test_watch_definition_errors_keep_it_running(
    shop: Path, files: dict[str, str], error: str
) -> None:
    w, _ = start(shop)
    with w:
        before = {name: (shop / name).read_text() for name in files if (shop / name).exists()}
        for name, text in files.items():
            save(shop / name, text)
        # Saving two files may make two rebuilds: a.sql alone names an unknown table.
        w.report_where(lambda report: report[-1].startswith("✗ ") and error in report[-1])
        for name in files:
            if name in before:
                save(shop / name, before[name])
            else:
                (shop / name).unlink()
        w.report_where(lambda report: report[-1].startswith("✓ nothing to do"))


def test_watch_reports_a_failing_asset_and_keeps_running(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        other = shop / "assets" / "other.py"
        edit(other, "return 42", 'print("looked everywhere"); raise ValueError("no answer")')
        failed = w.report()
        assert "  FAIL independent: ValueError: no answer (assets/other.py:6)" in failed
        at = failed.index("  FAIL independent: ValueError: no answer (assets/other.py:6)")
        assert failed[at + 1] == "       | looked everywhere"  # what it printed, under it
        assert failed[-1].startswith("✗ 1 failed")

        edit(other, 'print("looked everywhere"); raise ValueError("no answer")', "return 7")
        fixed = w.report()
        assert ran(fixed) == {"independent"}
        assert fixed[-1].startswith("✓ rebuilt 1 asset in ")


def test_watch_schema_changes_are_reported(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        edit(
            shop / "assets" / "revenue.sql",
            "SELECT sum(amount) AS total",
            "SELECT sum(amount)::VARCHAR AS total, count(*) AS n",
        )
        report = w.report()
        [line] = [x for x in report if x.startswith("  ran  revenue")]
        # sum() of integers is DuckDB's HUGEINT, stored as such (not as a lossy DOUBLE).
        assert line.endswith("schema: +n BIGINT, total HUGEINT→VARCHAR"), line


def test_watch_runs_only_the_selection(shop: Path) -> None:
    w, first = start(shop, "independent")
    with w:
        assert ran(first) == {"independent"}
        edit(shop / "assets" / "orders.py", "RATE))", "RATE + 1))")
        assert w.report()[-1].startswith("✓ nothing to do")
        edit(shop / "assets" / "other.py", "return 42", "return 41")
        assert ran(w.report()) == {"independent"}


def test_watch_leaves_the_state_free_for_other_commands(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        env = {"ASSETFLOW_LOCK_TIMEOUT": "10"}
        status = run_assetflow("status", cwd=shop, env=env, timeout=DEADLINE)
        assert status.returncode == 0, status.stderr
        assert "fresh" in status.stdout
        sql = run_assetflow("sql", "SELECT total FROM revenue", cwd=shop, env=env, timeout=DEADLINE)
        assert sql.returncode == 0, sql.stderr
        assert "150" in sql.stdout
        assert w.proc.poll() is None


def test_watch_sigint_when_idle_exits_and_leaves_no_lock(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        code = w.interrupt()
    assert code in (0, 130), w.transcript()
    assert w.stdout == []
    after = run_assetflow(
        "materialize", cwd=shop, env={"ASSETFLOW_LOCK_TIMEOUT": "5"}, timeout=DEADLINE
    )
    assert after.returncode == 0, after.stderr


SLOW = """
import time
from pathlib import Path
from typing import IO

from assetflow import asset


@asset
def slow() -> int:
    Path(__file__).parent.parent.joinpath("started").write_text("yes")
    time.sleep(DELAY)
    return 1
"""


def test_watch_sigint_during_a_rebuild_cancels_it_cleanly(shop: Path) -> None:
    (shop / "assets" / "slow.py").write_text(SLOW.replace("DELAY", "0"))
    w, _ = start(shop)
    with w:
        marker = shop / "started"
        marker.unlink()
        edit(shop / "assets" / "slow.py", "time.sleep(0)", "time.sleep(1.5)")
        deadline = time.monotonic() + DEADLINE
        while not marker.exists():  # polls for the asset to start, bounded
            assert time.monotonic() < deadline, w.transcript()
            time.sleep(0.02)
        code = w.interrupt()
    assert code == 130, w.transcript()
    assert any(line.startswith("✗ interrupted") for line in w.output), w.transcript()
    assert w.output[-1] == "interrupted"
    after = run_assetflow(
        "materialize", cwd=shop, env={"ASSETFLOW_LOCK_TIMEOUT": "5"}, timeout=DEADLINE
    )
    assert after.returncode == 0, after.stderr


def test_watch_saves_during_a_rebuild_make_one_more_rebuild(shop: Path) -> None:
    (shop / "assets" / "slow.py").write_text(SLOW.replace("DELAY", "0"))
    w, _ = start(shop)
    with w:
        marker = shop / "started"
        marker.unlink()
        edit(shop / "assets" / "slow.py", "time.sleep(0)", "time.sleep(2.0)")
        deadline = time.monotonic() + DEADLINE
        while not marker.exists():
            assert time.monotonic() < deadline, w.transcript()
            time.sleep(0.02)
        other = shop / "assets" / "other.py"
        for answer in (1, 2, 3):  # three saves while slow runs, apart enough to be three batches
            save(other, other.read_text().replace("return 42", f"return {answer}"))
            other.write_text(other.read_text().replace(f"return {answer}", "return 42"))
            time.sleep(0.1)
        assert ran(w.report()) == {"slow"}
        assert header(w.report()) == "assets/other.py changed"
        edit(shop / "assets" / "revenue.sql", "-- description", "-- a comment\n-- description")
        assert header(w.report()) == "assets/revenue.sql changed"  # not a pile of other.py


def test_watch_ignores_ignored_files(shop: Path) -> None:
    w, _ = start(shop)
    with w:
        assets = shop / "assets"
        (assets / ".orders.py.swp").write_text("swap")
        (assets / ".orders.py.swx").write_text("swap")
        (assets / "orders.py~").write_text("backup")
        (assets / "4913").write_text("")
        (assets / ".#orders.py").write_text("lock")
        (assets / "orders.py___jb_tmp___").write_text("jetbrains")
        (assets / "notes.txt").write_text("ignored by .gitignore")
        (assets / "__pycache__").mkdir(exist_ok=True)
        (assets / "__pycache__" / "junk.cpython-311.pyc").write_bytes(b"\0")
        (shop / "scratch").mkdir()
        (shop / "scratch" / "try.py").write_text("x = 1")
        (shop / "debug.log").write_text("ignored by .gitignore")
        (shop / ".assetflow" / "junk").write_text("the state folder")
        (shop / "README.md").write_text("not part of the project's definitions")
        edit(assets / "other.py", "return 42", "return 6")
        report = w.report()
        assert header(report) == "assets/other.py changed"
        assert ran(report) == {"independent"}


def test_watch_same_size_saves_within_a_second_import_the_new_code(shop: Path) -> None:
    # With bytecode caching on (Python's default), a .pyc is trusted while the source's
    # size and mtime in whole seconds match: both saves below would look the same.
    w, _ = start(shop, env={"PYTHONDONTWRITEBYTECODE": ""})
    with w:
        other = shop / "assets" / "other.py"
        second = int(time.time()) * 1_000_000_000
        for n, answer in enumerate((43, 44), start=1):
            edit(other, f"return {answer - 1}", f"return {answer}")
            os.utime(other, ns=(second + n, second + n))
            assert ran(w.report()) == {"independent"}
            assert stored_value(shop, "independent") == answer


def test_watch_poll_sees_an_edit(shop: Path) -> None:
    w, _ = start(shop, "--poll")
    with w:
        edit(shop / "assets" / "other.py", "return 42", "return 9")
        report = w.report()
        assert header(report) == "assets/other.py changed"
        assert ran(report) == {"independent"}


def test_watch_outside_a_project_is_a_usage_error(tmp_path: Path) -> None:
    result = run_assetflow("watch", cwd=tmp_path, timeout=DEADLINE)
    assert result.returncode == 2
    assert "no assetflow project" in result.stderr


def test_watch_unknown_selection_at_start_is_a_usage_error(shop: Path) -> None:
    result = run_assetflow("watch", "nope", cwd=shop, timeout=DEADLINE)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "'nope' is not an asset or source" in result.stderr


# -- units --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        (".orders.py.swp", True),
        (".orders.py.swx", True),
        ("orders.py~", True),
        (".#orders.py", True),
        ("#orders.py#", True),
        ("4913", True),
        ("orders.sql.tmp", True),
        ("orders.py___jb_tmp___", True),
        ("orders.py___jb_old___", True),
        ("sedAb12Cd", True),
        ("orders.py", False),
        ("daily.sql", False),
        ("_helpers.py", False),
        ("orders.csv", False),
    ],
    ids=lambda v: str(v),
)
def test_ignored_name(name: str, ignored: bool) -> None:
    assert ignored_name(name) is ignored


def _filter(root: Path, sources: dict[str, str] | None = None) -> ChangeFilter:
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    for path, text in (sources or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    config = load_config(root)
    from assetflow.api import load

    return ChangeFilter(Scope.of(config, load(root).graph))


def test_change_filter_scope_gitignore_and_sources(tmp_path: Path) -> None:
    root = tmp_path / "p"
    keep = _filter(
        root,
        {
            "assets/src.py": (
                "from assetflow import source\n"
                'raw = source("data/raw.csv")\n'
                'logs = source("logs/*.jsonl")\n'
            ),
            "data/raw.csv": "a\n1\n",
            ".gitignore": "data/\n*.log\nassets/generated/\n",
            "assets/sub/.gitignore": "*.py\n!keep.py\n",
        },
    )
    r = str(root)
    assert keep.relevant(f"{r}/assets/orders.py")
    assert keep.relevant(f"{r}/assets/daily.sql")
    assert keep.relevant(f"{r}/assetflow.toml")
    assert keep.relevant(f"{r}/data/raw.csv")  # a source wins over .gitignore
    assert keep.relevant(f"{r}/logs/2024/a.jsonl")  # a glob source
    assert keep.relevant(f"{r}/assets/sub/keep.py")  # re-included by the nested .gitignore
    assert not keep.relevant(f"{r}/assets/sub/other.py")  # ignored by the nested .gitignore
    assert not keep.relevant(f"{r}/data/other.csv")  # not a source, and ignored
    assert not keep.relevant(f"{r}/assets/generated/x.py")
    assert not keep.relevant(f"{r}/assets/run.log")
    assert not keep.relevant(f"{r}/.assetflow/state.duckdb")
    assert not keep.relevant(f"{r}/assets/__pycache__/orders.cpython-311.pyc")
    assert not keep.relevant(f"{r}/assets/.orders.py.swp")
    assert not keep.relevant(f"{r}/README.md")  # outside what the project is made of
    assert not keep.relevant(r)  # a watched folder's own times (polling reports them)
    assert not keep.relevant(f"{r}/data")


def test_scope_directories_watch_each_folder_once(tmp_path: Path) -> None:
    root = tmp_path / "p"
    keep = _filter(
        root,
        {
            "assets/src.py": (
                "from assetflow import source\n"
                'a = source("data/a.csv")\n'
                'b = source("assets/inner.csv")\n'
                'c = source("missing/deeper/c.csv")\n'
                'd = source("logs/**/*.jsonl")\n'
            ),
            "data/a.csv": "x\n1\n",
            "logs/x.jsonl": "{}\n",
        },
    )
    deep, flat = keep.scope.directories()
    assert deep == (root / "assets", root / "logs")
    # A missing source's folder is watched through its nearest existing parent (the root).
    assert flat == (root, root / "data")


@pytest.mark.parametrize(
    ("old", "new", "text"),
    [
        ([("a", "BIGINT")], [("a", "BIGINT")], ""),
        ([("a", "BIGINT")], [("a", "BIGINT"), ("b", "VARCHAR")], "+b VARCHAR"),
        ([("a", "BIGINT"), ("b", "VARCHAR")], [("a", "BIGINT")], "-b VARCHAR"),
        ([("a", "BIGINT")], [("a", "DOUBLE")], "a BIGINT→DOUBLE"),
        (None, [("a", "BIGINT")], "+a BIGINT"),
        (
            [("a", "INTEGER"), ("b", "DATE")],
            [("c", "DATE"), ("a", "BIGINT")],
            "+c DATE, -b DATE, a INTEGER→BIGINT",
        ),
    ],
    ids=["same", "added", "removed", "retyped", "from-nothing", "all-three"],
)
def test_schema_diff(old: list[tuple[str, str]] | None, new: list[tuple[str, str]], text: str):
    diff = schema_diff(old, new)
    assert str(diff) == text
    assert bool(diff) is bool(text)


@pytest.mark.parametrize("module", [assetflow.watch, assetflow.changes])
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
