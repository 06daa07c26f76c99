"""Asset code that tries to take the run down, and what assets print.

Each case fails the asset that misbehaves and nothing else: its downstream is
skipped, independent assets run, one line names the asset and what it did, the
exit code is 1, and the run's counts in ``runs`` equal the attempts recorded.
The CLI runs in this process (click's CliRunner) except where a real process is
the point: worker processes, ``os._exit``, signals, file descriptors.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result
from conftest import run_assetflow

import assetflow
from assetflow.capture import LIMIT
from assetflow.cli import main
from assetflow.state import SCHEMA_VERSION, StateStore

HOSTILE = """
import os
import sys
from assetflow import asset


@asset
def good():
    return 1


@asset
def good_child(good):
    return good + 1


@asset
def bad():
    print("about to misbehave")
    BODY


@asset
def bad_child(bad):
    return bad
"""

EXPECTED = {
    "good": "materialized",
    "good_child": "materialized",
    "bad": "failed",
    "bad_child": "skipped",
}


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    for rel, text in files.items():
        (root / rel).write_text(text)
    return root


def _hostile(tmp_path: Path, body: str) -> Path:
    return _project(tmp_path, {"assets/hostile.py": HOSTILE.replace("BODY", body)})


def _cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(root)], env={"CI": "true"})


def _outcomes(root: Path) -> dict[str, str]:
    """Each asset's last recorded outcome in the state."""
    rows = duckdb.connect(str(root / ".assetflow" / "state.duckdb"), read_only=True).execute(
        "SELECT asset, outcome FROM materializations "
        "QUALIFY row_number() OVER (PARTITION BY asset ORDER BY id DESC) = 1"
    )
    return dict(rows.fetchall())


def _assert_counts_match_state(root: Path) -> None:
    """The last run's counts in ``runs`` are what its recorded attempts say."""
    store = StateStore(root / ".assetflow")
    [run] = store.runs(1)
    attempts = store.run_materializations(run.run_id)
    last = {m.asset: m.outcome for m in attempts}  # in id order: the last attempt wins
    assert run.materialized == sum(o == "materialized" for o in last.values())
    assert run.failed == sum(o == "failed" for o in last.values())
    assert run.cancelled == 0


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("sys.exit(0)", "asset 'bad' called sys.exit(0)"),
        ("sys.exit(3)", "asset 'bad' called sys.exit(3)"),
        ("sys.exit()", "asset 'bad' called sys.exit()"),
        ("raise KeyboardInterrupt", "asset 'bad' raised KeyboardInterrupt"),
        ("raise BaseException('odd')", "asset 'bad' raised BaseException: odd"),
    ],
    ids=["exit-0", "exit-3", "exit-none", "keyboard-interrupt", "base-exception"],
)
@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_asset_that_ends_the_process_fails_only_itself(tmp_path, body, said, executor):
    root = _hostile(tmp_path, body)
    result = _cli(root, "materialize", "--executor", executor)
    assert result.exit_code == 1, result.output
    assert f"FAILED bad: {said}" in result.stderr
    assert "cancelled" not in result.stderr
    assert _outcomes(root) == {k: v for k, v in EXPECTED.items() if v != "skipped"}
    _assert_counts_match_state(root)
    [run] = StateStore(root / ".assetflow").runs(1)
    assert (run.outcome, run.skipped) == ("failed", 1)


def test_sys_exit_under_processes_fails_only_that_asset(tmp_path):
    root = _hostile(tmp_path, "sys.exit(0)")
    result = _cli(root, "materialize", "--executor", "processes", "-j", "2")
    assert result.exit_code == 1, result.output
    assert "FAILED bad: asset 'bad' called sys.exit(0)" in result.stderr
    assert _outcomes(root) == {k: v for k, v in EXPECTED.items() if v != "skipped"}
    _assert_counts_match_state(root)


def test_sys_exit_in_a_check_fails_the_check_not_the_run(tmp_path):
    source = (
        "import sys\nfrom assetflow import asset, check\n\n\n"
        "@asset\ndef thing():\n    return 1\n\n\n"
        "@check('thing')\ndef quits(value):\n    sys.exit(0)\n\n\n"
        "@asset\ndef other():\n    return 2\n"
    )
    root = _project(tmp_path, {"assets/checked.py": source})
    result = _cli(root, "materialize")
    assert result.exit_code == 1, result.output
    assert "quits() called sys.exit(0)" in result.stderr
    assert _outcomes(root) == {"thing": "failed", "other": "materialized"}


CRASH = """
import os
import time
from pathlib import Path
from assetflow import asset

MARK = Path(__file__).parent.parent / "slow.started"


@asset
def slow():
    MARK.write_text("started")
    time.sleep(0.5)
    return 1


@asset
def slow_child(slow):
    return slow + 1


@asset
def crash():
    for _ in range(600):  # wait until slow is running beside us (at most 60 s)
        if MARK.exists():
            break
        time.sleep(0.1)
    os.system("echo from a child process")
    os._exit(0)


@asset
def crash_child(crash):
    return crash
"""


def test_os_exit_ends_only_its_worker_and_fails_only_that_asset(tmp_path):
    root = _project(tmp_path, {"assets/crash.py": CRASH})
    result = _cli(root, "materialize", "--executor", "processes", "-j", "2")
    assert result.exit_code == 1, result.output
    assert "FAILED crash: asset 'crash' ended its worker process (exit code 0)" in result.stderr
    assert "| from a child process" in result.stderr  # what it printed, under the failure
    assert "internal error" not in result.output
    # slow was running in the other worker when crash's worker died: it finished.
    assert _outcomes(root) == {
        "slow": "materialized",
        "slow_child": "materialized",
        "crash": "failed",
    }
    _assert_counts_match_state(root)
    again = _cli(root, "materialize", "--executor", "processes", "-j", "2")
    assert again.exit_code == 1  # crash fails again; the workers were replaced


SIGINT_DURING = """
import time
from pathlib import Path
from assetflow import asset


@asset
def working():
    (Path(__file__).parent.parent / "working.started").write_text("started")
    time.sleep(1.0)
    return 1


@asset
def after(working):
    return working + 1
"""


def test_ctrl_c_to_the_process_group_still_cancels_a_processes_run(tmp_path):
    """A terminal's Ctrl-C reaches the workers too: they leave it to the coordinator."""
    root = _project(tmp_path, {"assets/sig.py": SIGINT_DURING})
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETFLOW_")}
    env["CI"] = "true"
    proc = subprocess.Popen(
        [sys.executable, "-m", "assetflow", "materialize", "--executor", "processes", "-j", "1"],
        cwd=root,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group, as a shell's job is
    )
    assert proc.stderr is not None
    mark = root / "working.started"
    for line in proc.stderr:
        if line.startswith("start working"):
            break
    for _ in range(600):  # the worker must be inside the asset before the signal
        if mark.exists():
            break
        threading.Event().wait(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, rest
    assert "raised KeyboardInterrupt" not in rest
    store = StateStore(root / ".assetflow")
    assert [m.outcome for m in store.history("working")] == ["materialized"]  # it was waited for
    assert store.runs(1)[0].outcome == "cancelled"


PRINTS = """
import logging
import sys
import threading
from assetflow import asset


@asset
def chatty(context):
    print("to stdout")
    print("to stderr", file=sys.stderr)
    context.log.info("an info record")
    logging.getLogger("somewhere").warning("a warning record")
    return 1


@asset
def chatty_child(chatty):
    print("child says hi")
    return chatty + 1


@asset
def failing():
    print("the context of the failure")
    raise ValueError("nope")
"""


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_json_output_is_not_corrupted_by_prints(tmp_path, executor):
    root = _project(tmp_path, {"assets/prints.py": PRINTS})
    result = _cli(root, "materialize", "--format", "json", "--executor", executor)
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)  # the whole of stdout is the document
    outputs = {a["name"]: a["output"] for a in doc["assets"]}
    assert outputs["chatty"].splitlines() == [
        "to stdout",
        "to stderr",
        "INFO assetflow.chatty: an info record",
        "WARNING somewhere: a warning record",
    ]
    assert outputs["chatty_child"] == "child says hi\n"
    assert outputs["failing"] == "the context of the failure\n"
    assert "to stdout" not in result.stderr  # captured, not passed through


def test_jsonl_events_and_prints_do_not_interleave(tmp_path):
    root = _project(tmp_path, {"assets/prints.py": PRINTS})
    result = _cli(root, "materialize", "--format", "jsonl")
    docs = [json.loads(line) for line in result.stdout.splitlines()]  # every line is an event
    [failed] = [d for d in docs if d["event"] == "asset_failed"]
    assert failed["output"] == "the context of the failure\n"


def test_fd_level_output_of_workers_stays_out_of_stdout(tmp_path):
    """A worker's file descriptors are its own: C code and child processes print there too."""
    source = (
        "import os\nprint('at import')\nfrom assetflow import asset\n\n\n"
        "@asset\ndef shell():\n    os.system('echo from echo')\n    return 1\n"
    )
    root = _project(tmp_path, {"assets/shell.py": source})
    result = run_assetflow("materialize", "--format", "json", "--executor", "processes", cwd=root)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert "from echo" in doc["assets"][0]["output"]


def test_output_is_shown_on_failure_and_kept_for_history_and_runs_show(tmp_path):
    root = _project(tmp_path, {"assets/prints.py": PRINTS})
    result = _cli(root, "materialize")
    lines = result.stderr.splitlines()
    at = lines.index("FAILED failing: ValueError: nope")
    assert "    | the context of the failure" in lines[at:]  # under the failure line
    assert "to stdout" not in result.output  # a success's output is kept, not shown

    history = _cli(root, "history", "chatty", "--output")
    assert history.exit_code == 0, history.output
    assert "  | INFO assetflow.chatty: an info record" in history.stdout
    as_json = json.loads(_cli(root, "history", "failing", "--format", "json").stdout)
    assert as_json["materializations"][0]["output"] == "the context of the failure\n"

    shown = _cli(root, "runs", "show", "1")
    assert "      | child says hi" in shown.stdout
    shown_json = json.loads(_cli(root, "runs", "show", "1", "--format", "json").stdout)
    by_asset = {a["asset"]: a["output"] for a in shown_json["attempts"]}
    assert by_asset["chatty_child"] == "child says hi\n"


def test_stored_output_keeps_only_the_last_64_kib(tmp_path):
    source = (
        "from assetflow import asset\n\n\n@asset\ndef loud():\n"
        "    for i in range(20_000):\n        print(f'line {i:05d}')\n    return 1\n"
    )
    root = _project(tmp_path, {"assets/loud.py": source})
    assert _cli(root, "materialize").exit_code == 0
    [m] = StateStore(root / ".assetflow").history("loud")
    assert m.output is not None
    first, *rest = m.output.splitlines()
    assert first == "[output cut: only the last 64 KiB are kept]"
    assert rest[-1] == "line 19999"
    assert len("\n".join(rest).encode()) <= LIMIT


SPIN = """
import os
from pathlib import Path
from assetflow import asset


@asset(timeout=0.3)
def spin():
    (Path(__file__).parent.parent / "spin.pid").write_text(str(os.getpid()))
    while True:
        pass


@asset
def beside():
    return 1
"""


def test_timed_out_attempt_does_not_outlive_its_run(tmp_path):
    """As under ``watch``: rebuild after rebuild, no abandoned attempt keeps running."""
    root = _project(tmp_path, {"assets/spin.py": SPIN})
    for _ in range(3):
        result = assetflow.materialize(project=root, force=True)
        outcomes = {a.name: (a.outcome, a.error) for a in result.assets}
        assert outcomes == {
            "spin": ("failed", "the attempt ran longer than its timeout of 0.3 s"),
            "beside": ("materialized", None),
        }
        assert not [t for t in threading.enumerate() if t.name == "assetflow-attempt"]
        pid = int((root / "spin.pid").read_text())
        assert pid != os.getpid()  # it ran in a worker process ...
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # ... which is gone


def test_sql_asset_past_its_timeout_is_interrupted(tmp_path):
    query = "-- timeout: 0.3\nSELECT count(*) AS n FROM range(1000000) a, range(1000000) b\n"
    root = _project(tmp_path, {"assets/huge.sql": query})
    result = assetflow.materialize(project=root)
    [huge] = result.assets
    assert huge.outcome == "failed" and "timeout of 0.3 s" in (huge.error or "")
    assert not [t for t in threading.enumerate() if t.name == "assetflow-attempt"]


def test_state_of_schema_version_1_is_read_and_migrated(tmp_path):
    root = _project(tmp_path, {"assets/prints.py": PRINTS})
    assert _cli(root, "materialize").exit_code == 1
    path = root / ".assetflow" / "state.duckdb"
    with duckdb.connect(str(path)) as con:  # as version 1 left it
        con.execute("ALTER TABLE materializations DROP COLUMN output")
        con.execute("UPDATE assetflow_meta SET value = '1' WHERE key = 'schema_version'")
    old = _cli(root, "history", "chatty", "--output")  # read-only: no migration, no output
    assert old.exit_code == 0 and "(printed nothing)" in old.stdout
    assert _cli(root, "materialize", "--force").exit_code == 1
    with duckdb.connect(str(path), read_only=True) as con:
        [(version,)] = con.execute(
            "SELECT value FROM assetflow_meta WHERE key = 'schema_version'"
        ).fetchall()
        printed = con.execute(
            "SELECT output FROM materializations WHERE asset = 'chatty' ORDER BY id DESC LIMIT 1"
        ).fetchall()
    assert int(version) == SCHEMA_VERSION == 2
    assert printed[0][0].startswith("to stdout\n")


def test_state_of_a_newer_schema_is_still_refused(tmp_path):
    root = _project(tmp_path, {"assets/prints.py": PRINTS})
    _cli(root, "materialize")
    with duckdb.connect(str(root / ".assetflow" / "state.duckdb")) as con:
        con.execute("UPDATE assetflow_meta SET value = '99' WHERE key = 'schema_version'")
    result = _cli(root, "materialize")
    assert result.exit_code == 3
    assert "newer than this assetflow understands" in result.stderr


def test_runs_counts_match_the_state_when_the_run_itself_fails(tmp_path):
    source = (
        "from assetflow import asset\n\n\n@asset\ndef a():\n    return 1\n\n\n"
        "@asset\ndef b(a):\n    return a + 1\n\n\n@asset\ndef c(b):\n    return b + 1\n"
    )
    root = _project(tmp_path, {"assets/chain.py": source})

    def subscriber(event: object) -> None:  # a subscriber's bug is an error of the run
        if getattr(event, "kind", "") == "asset_started" and getattr(event, "asset", "") == "b":
            raise RuntimeError("subscriber broke")

    with pytest.raises(RuntimeError, match="subscriber broke"):
        assetflow.materialize(project=root, on_event=subscriber, workers=1)
    [run] = StateStore(root / ".assetflow").runs(1)
    assert (run.outcome, run.materialized, run.cancelled) == ("error", 1, 2)
    assert _outcomes(root) == {"a": "materialized"}


def test_dask_workers_send_what_attempts_print_back(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setenv("ASSETFLOW_DASK_PROCESSES", "0")  # one in-process worker: starts fast
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    root = _project(tmp_path, {"assets/prints.py": PRINTS})
    result = assetflow.materialize(project=root, executor="dask", workers=2)
    outputs = {a.name: a.output for a in result.assets}
    assert outputs["failing"] == "the context of the failure\n"
    assert outputs["chatty_child"] == "child says hi\n"


def test_capture_and_took_down_examples_run():
    import doctest

    from assetflow import capture, compute

    assert doctest.testmod(capture).failed == 0
    finder = doctest.DocTestFinder()
    [example] = [t for t in finder.find(compute.took_down) if t.examples]
    assert doctest.DocTestRunner().run(example).failed == 0


def test_records_outside_attempts_are_logged_as_without_capture(capsys):
    """The capture handler on the root logger must not swallow or double others' records."""
    import io
    import logging

    from assetflow import capture

    own = logging.getLogger("test_hostile.own")
    heard = logging.StreamHandler(io.StringIO())
    own.addHandler(heard)
    try:
        with capture.redirect():
            logging.getLogger("test_hostile.bare").warning("no handler of its own")
            own.warning("has a handler")
            out = capture.Output()
            with capture.capturing(out):
                logging.getLogger("test_hostile.bare").warning("in an attempt")
    finally:
        own.removeHandler(heard)
    assert out.text() == "WARNING test_hostile.bare: in an attempt\n"
    assert heard.stream.getvalue() == "has a handler\n"
    assert "in an attempt" not in capsys.readouterr().err
