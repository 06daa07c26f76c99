"""The state database, ``<state>/state.duckdb``: the only module that writes it.

DuckDB lets one process write a file at a time, so every connection here is
short-lived (open, one transaction, close) and a locked file is retried with
jittered backoff before failing with :class:`StateError`. Whole runs are
serialized by :func:`run_lock`, a file lock beside the database. Read-only
commands open read-only and treat a missing database as empty state.

All times are naive UTC ``TIMESTAMP`` values. The tables are documented in
``docs/state.md``.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import fcntl
import json
import os
import random
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from assetflow.errors import DefinitionError, StateError
from assetflow.plan import Record

if TYPE_CHECKING:
    import duckdb

SCHEMA_VERSION = 2
STATE_FILE = "state.duckdb"
LOCK_FILE = "run.lock"

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assetflow_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY,
    command VARCHAR,
    selection VARCHAR,
    user_name VARCHAR,
    host VARCHAR,
    pid INTEGER,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    outcome VARCHAR,
    materialized INTEGER,
    fresh INTEGER,
    failed INTEGER,
    skipped INTEGER,
    cancelled INTEGER,
    executor VARCHAR,
    workers INTEGER
);
CREATE TABLE IF NOT EXISTS materializations (
    id BIGINT,
    asset VARCHAR NOT NULL,
    run_id BIGINT NOT NULL,
    outcome VARCHAR NOT NULL,
    code_version VARCHAR,
    inputs JSON,
    data_version VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    rows BIGINT,
    bytes BIGINT,
    schema JSON,
    format VARCHAR,
    location VARCHAR,
    error VARCHAR,
    traceback VARCHAR,
    collected BOOLEAN DEFAULT false,
    attempt INTEGER,
    value BLOB,
    output VARCHAR
);
CREATE TABLE IF NOT EXISTS check_results (
    materialization_id BIGINT NOT NULL,
    asset VARCHAR NOT NULL,
    run_id BIGINT NOT NULL,
    check_name VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    passed BOOLEAN NOT NULL,
    violations BIGINT,
    message VARCHAR,
    sample JSON
);
CREATE TABLE IF NOT EXISTS source_observations (
    source VARCHAR NOT NULL,
    run_id BIGINT,
    observed_at TIMESTAMP,
    version VARCHAR,
    stat_key VARCHAR
);
"""

# (column, DuckDB list type) of a materialization row, in table order.
_MAT_COLUMNS = (
    ("id", "BIGINT"),
    ("asset", "VARCHAR"),
    ("run_id", "BIGINT"),
    ("outcome", "VARCHAR"),
    ("code_version", "VARCHAR"),
    ("inputs", "JSON"),
    ("data_version", "VARCHAR"),
    ("started_at", "TIMESTAMP"),
    ("finished_at", "TIMESTAMP"),
    ("rows", "BIGINT"),
    ("bytes", "BIGINT"),
    ("schema", "JSON"),
    ("format", "VARCHAR"),
    ("location", "VARCHAR"),
    ("error", "VARCHAR"),
    ("traceback", "VARCHAR"),
    ("attempt", "INTEGER"),
    ("value", "BLOB"),
    ("output", "VARCHAR"),
)
_CHECK_COLUMNS = (
    ("materialization_id", "BIGINT"),
    ("asset", "VARCHAR"),
    ("run_id", "BIGINT"),
    ("check_name", "VARCHAR"),
    ("severity", "VARCHAR"),
    ("passed", "BOOLEAN"),
    ("violations", "BIGINT"),
    ("message", "VARCHAR"),
    ("sample", "JSON"),
)
_OBS_COLUMNS = (
    ("source", "VARCHAR"),
    ("run_id", "BIGINT"),
    ("observed_at", "TIMESTAMP"),
    ("version", "VARCHAR"),
    ("stat_key", "VARCHAR"),
)


def _json_string(text: str) -> str:
    if text.isalnum() and text.isascii():  # a hex version: nothing to escape
        return f'"{text}"'
    from json.encoder import encode_basestring_ascii  # the C encoder of a JSON string

    return str(encode_basestring_ascii(text))


def utcnow() -> dt.datetime:
    """The current time as naive UTC, the way the state stores times."""
    return _EPOCH + dt.timedelta(microseconds=time.time_ns() // 1000)


def _utc(epoch_s: float | None) -> dt.datetime:
    """``time.time()`` seconds as the state stores times (now, for None)."""
    if epoch_s is None:
        return utcnow()
    return _EPOCH + dt.timedelta(microseconds=round(epoch_s * 1_000_000))


#: A run's end: run id, outcome, counts, and when it ended (``time.time()``; None: now).
RunEnd = tuple[int, str, dict[str, int], float | None]


_EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Materialization:
    """One row of ``materializations``: an attempt to materialize an asset."""

    id: int
    asset: str
    run_id: int
    outcome: str  # materialized | failed | cancelled
    code_version: str | None
    inputs: dict[str, tuple[str, int | None]]
    data_version: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    rows: int | None = None
    bytes: int | None = None
    schema: list[tuple[str, str]] | None = None
    format: str | None = None
    location: str | None = None
    error: str | None = None
    traceback: str | None = None
    attempt: int = 1
    # An inline value (small JSON or pickle); the field `bytes` above shadows the builtin.
    value: builtins.bytes | None = None
    # What the attempt printed and logged (its last 64 KiB); read only by history and runs show.
    output: str | None = None

    def as_record(self, data_present: bool = True) -> Record:
        """The planner's view of this (successful) materialization."""
        assert self.code_version is not None and self.data_version is not None
        assert self.finished_at is not None
        return Record(
            run_id=self.run_id,
            code_version=self.code_version,
            data_version=self.data_version,
            inputs=self.inputs,
            finished_at=self.finished_at,
            data_present=data_present,
        )

    def row(self) -> tuple[Any, ...]:
        # Names are identifiers; versions are hex, or any string an @source returned.
        inputs = ",".join(
            f'"{k}":[{_json_string(v)},{"null" if r is None else r}]'
            for k, (v, r) in sorted(self.inputs.items())
        )
        return (
            self.id,
            self.asset,
            self.run_id,
            self.outcome,
            self.code_version,
            "{" + inputs + "}",
            self.data_version,
            self.started_at,
            self.finished_at,
            self.rows,
            self.bytes,
            json.dumps(self.schema) if self.schema is not None else None,
            self.format,
            self.location,
            self.error,
            self.traceback,
            self.attempt,
            self.value,
            self.output,
        )


_RUN_COLUMNS = (
    "run_id",
    "command",
    "selection",
    "user_name",
    "host",
    "pid",
    "started_at",
    "finished_at",
    "outcome",
    "materialized",
    "fresh",
    "failed",
    "skipped",
    "cancelled",
    "executor",
    "workers",
)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of ``runs``."""

    run_id: int
    command: str
    selection: str
    user_name: str
    host: str
    pid: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str  # running | success | failed | cancelled | error
    materialized: int | None
    fresh: int | None
    failed: int | None
    skipped: int | None
    cancelled: int | None
    executor: str | None
    workers: int | None


@dataclass(frozen=True, slots=True)
class Observation:
    """A source's observed version, with the file stats it was computed from."""

    source: str
    version: str
    stat_key: str | None
    observed_at: dt.datetime
    run_id: int | None = None
    changed_at: dt.datetime | None = None  # when this version was first observed


@dataclass(slots=True)
class Snapshot:
    """What planning reads from the state: per asset the current and last failed attempt."""

    current: dict[str, Materialization] = field(default_factory=dict)
    failures: dict[str, Materialization] = field(default_factory=dict)
    observations: dict[str, Observation] = field(default_factory=dict)
    last_run_id: int = 0
    last_materialization_id: int = 0


class StateStore:
    """Reads and writes ``state.duckdb`` under ``state_dir``.

    Args:
        state_dir: the state folder.
        lock_timeout: seconds to keep retrying a locked database.
    """

    def __init__(self, state_dir: Path, *, lock_timeout: float | None = None) -> None:
        self.state_dir = state_dir
        self.path = state_dir / STATE_FILE
        self.lock_timeout = lock_timeout if lock_timeout is not None else _env_timeout()

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; the database is created and migrated on first write."""
        import duckdb

        if not read_only:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        con = self.retry_locked(lambda: duckdb.connect(str(self.path), read_only=read_only))
        try:
            if not read_only:
                self._migrate(con)
            yield con
        finally:
            con.close()

    def retry_locked(self, open_: Callable[[], T]) -> T:
        """Call ``open_`` until the database is not locked, up to the lock timeout."""
        import duckdb

        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        while True:
            try:
                return open_()
            except duckdb.IOException as e:
                if "lock" not in str(e).lower():
                    raise StateError(f"cannot open {self.path}: {_first_line(e)}") from e
                if time.monotonic() >= deadline:
                    raise StateError(
                        f"{self.path} is locked by another process for more than "
                        f"{self.lock_timeout:g} s ({_first_line(e)}); wait for it to finish, "
                        "or raise ASSETFLOW_LOCK_TIMEOUT."
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
            except duckdb.Error as e:
                raise StateError(
                    f"cannot open the state database {self.path}: {_first_line(e)}; "
                    "move it away to start from empty state."
                ) from e

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        row = None
        with contextlib.suppress(Exception):
            rows = con.execute(
                "SELECT value FROM assetflow_meta WHERE key = 'schema_version'"
            ).fetchall()
            row = rows[0] if rows else None
        if row is not None:
            found = int(row[0])
            if found > SCHEMA_VERSION:
                raise StateError(
                    f"{self.path} has state schema version {found}, newer than this assetflow "
                    f"understands ({SCHEMA_VERSION}); upgrade assetflow."
                )
            if found < SCHEMA_VERSION:
                _upgrade(con, found)
            return
        con.execute("BEGIN")
        con.execute(_SCHEMA)
        con.execute(
            "INSERT INTO assetflow_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
        con.execute("COMMIT")

    def snapshot(self) -> Snapshot:
        """Current and last-failed materializations per asset, and latest source observations."""
        if not self.exists:
            return Snapshot()
        with self.connect(read_only=True) as con:
            return _read_snapshot(con)

    @contextlib.contextmanager
    def begin_run(
        self,
        *,
        command: str,
        selection: str,
        executor: str = "threads",
        workers: int = 1,
        started: float | None = None,
    ) -> Iterator[RunStart]:
        """Read the state and record a new run, in one connection (under the run lock).

        The connection stays open inside the ``with`` block, so a run found to
        have nothing to do records its end there (:meth:`RunStart.finish`)
        without opening the database again. Keep the block short: readers wait.
        """
        with self.connect() as con:
            snapshot = _read_snapshot(con)
            run_id = snapshot.last_run_id + 1
            con.execute(
                "INSERT INTO runs (run_id, command, selection, user_name, host, pid, started_at, "
                "outcome, executor, workers) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                [
                    run_id,
                    command,
                    selection,
                    _user(),
                    socket.gethostname(),
                    os.getpid(),
                    _utc(started),
                    executor,
                    workers,
                ],
            ).fetchall()
            yield RunStart(snapshot, run_id, con)

    def record(
        self,
        materializations: Sequence[Materialization],
        observations: Sequence[Observation] = (),
        *,
        finish_run: RunEnd | None = None,
        keep_versions: int | None = None,
        checks: Sequence[tuple[Any, ...]] = (),
    ) -> list[str]:
        """Write a batch in one transaction: attempts, observations, and the run's end.

        With ``keep_versions``, the successful versions of the batch's assets beyond
        their newest ``keep_versions`` are marked collected in the same transaction.

        Returns:
            The storage locations that became collected, for the caller to delete.
        """
        if not (materializations or observations or finish_run):
            return []
        with self.connect() as con:
            return _record(con, materializations, observations, finish_run, keep_versions, checks)

    def runs(self, limit: int = 20, run_id: int | None = None) -> list[RunRecord]:
        """The latest runs, newest first (or just run ``run_id``)."""
        if not self.exists:
            return []
        where = "WHERE run_id = ?" if run_id is not None else ""
        params: list[Any] = [run_id] if run_id is not None else []
        with self.connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs {where} ORDER BY run_id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [RunRecord(*row) for row in rows]

    def run_materializations(self, run_id: int) -> list[Materialization]:
        """Every attempt recorded in run ``run_id``, in the order they were recorded."""
        if not self.exists:
            return []
        with self.connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT {_with_output(con)} FROM materializations WHERE run_id = ? ORDER BY id",
                [run_id],
            ).fetchall()
        return _materializations(rows)

    def history(self, asset: str, limit: int = 20) -> list[Materialization]:
        """The latest attempts of ``asset``, newest first."""
        if not self.exists:
            return []
        with self.connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT {_with_output(con)} FROM materializations WHERE asset = ? "
                "ORDER BY id DESC LIMIT ?",
                [asset, limit],
            ).fetchall()
        return _materializations(rows)

    def latest_attempts(self, limit: int) -> dict[str, list[Materialization]]:
        """Per asset, its latest ``limit`` attempts, newest first (one query for all assets)."""
        if not self.exists:
            return {}
        with self.connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT {_MAT_SELECT} FROM materializations "
                "QUALIFY row_number() OVER (PARTITION BY asset ORDER BY id DESC) <= ? "
                "ORDER BY id DESC",
                [limit],
            ).fetchall()
        found: dict[str, list[Materialization]] = {}
        for m in _materializations(rows):
            found.setdefault(m.asset, []).append(m)
        return found

    def kept_locations(self) -> dict[str, list[str]]:
        """Per asset, (id, location) of each kept successful materialization, newest first."""
        if not self.exists:
            return {}
        with self.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT asset, id, location FROM materializations WHERE outcome = 'materialized' "
                "AND NOT collected AND location IS NOT NULL ORDER BY asset, id DESC"
            ).fetchall()
        kept: dict[str, list[str]] = {}
        for asset, _, location in rows:
            kept.setdefault(asset, []).append(location)
        return kept


@dataclass(frozen=True, slots=True)
class RunStart:
    """A run as it starts: the state it sees, its id, and the connection still open."""

    snapshot: Snapshot
    run_id: int
    con: duckdb.DuckDBPyConnection

    def finish(
        self,
        outcome: str,
        counts: dict[str, int],
        observations: Sequence[Observation] = (),
        finished: float | None = None,
    ) -> None:
        """Record the run's end through the open connection (a run that ran nothing)."""
        _record(self.con, (), observations, (self.run_id, outcome, counts, finished), None)


def _record(
    con: duckdb.DuckDBPyConnection,
    materializations: Sequence[Materialization],
    observations: Sequence[Observation],
    finish_run: RunEnd | None,
    keep_versions: int | None,
    checks: Sequence[tuple[Any, ...]] = (),
) -> list[str]:
    con.execute("BEGIN")
    _insert_columns(con, "check_results", _CHECK_COLUMNS, checks)
    _insert_columns(con, "materializations", _MAT_COLUMNS, [m.row() for m in materializations])
    _insert_columns(
        con,
        "source_observations",
        _OBS_COLUMNS,
        [(o.source, o.run_id, o.observed_at, o.version, o.stat_key) for o in observations],
    )
    collected: list[tuple[int, str | None]] = []
    assets = sorted({m.asset for m in materializations if m.outcome == "materialized"})
    if keep_versions is not None and assets:
        collected = _collect(con, assets, keep_versions)
    if finish_run is not None:
        _finish_run(con, *finish_run)
    con.execute("COMMIT")
    return [location for _, location in collected if location is not None]


# Planning reads every current row: it leaves out what attempts printed.
_MAT_SELECT = ", ".join(c for c, _ in _MAT_COLUMNS if c != "output")
_COUNTED = ("materialized", "fresh", "failed", "skipped", "cancelled")


def _collect(
    con: duckdb.DuckDBPyConnection, assets: list[str], keep_versions: int
) -> list[tuple[int, str | None]]:
    """Mark versions of ``assets`` beyond the newest ``keep_versions`` collected."""
    old = [
        (int(i), location)
        for i, location in con.execute(
            "SELECT id, location FROM materializations "
            "WHERE asset IN (SELECT unnest(?)) AND outcome = 'materialized' "
            "AND NOT collected "
            "QUALIFY row_number() OVER (PARTITION BY asset ORDER BY id DESC) > ?",
            [assets, keep_versions],
        ).fetchall()
    ]
    if old:
        con.execute(
            "UPDATE materializations SET collected = true, value = NULL "
            "WHERE id IN (SELECT unnest(?))",
            [[i for i, _ in old]],
        ).fetchall()
    return old


def _finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    outcome: str,
    counts: dict[str, int],
    finished: float | None,
) -> None:
    con.execute(
        "UPDATE runs SET finished_at = ?, outcome = ?, materialized = ?, fresh = ?, "
        "failed = ?, skipped = ?, cancelled = ? WHERE run_id = ?",
        [_utc(finished), outcome, *(counts.get(k, 0) for k in _COUNTED), run_id],
    ).fetchall()


#: Each step takes the state from the version before it to its own; all run in one transaction.
_STEPS: dict[int, str] = {
    2: "ALTER TABLE materializations ADD COLUMN output VARCHAR",
}


def _upgrade(con: duckdb.DuckDBPyConnection, found: int) -> None:
    """Migrate a state database of schema version ``found`` to :data:`SCHEMA_VERSION`."""
    con.execute("BEGIN")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        con.execute(_STEPS[version])
    con.execute(
        "UPDATE assetflow_meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)]
    )
    con.execute("COMMIT")


def _with_output(con: duckdb.DuckDBPyConnection) -> str:
    """The select list of whole attempts; a database not yet migrated has no output column."""
    return f"{_MAT_SELECT}, {'output' if _schema_version(con) >= 2 else 'NULL'}"


def _read_snapshot(con: duckdb.DuckDBPyConnection) -> Snapshot:
    _check_schema(con)
    snap = Snapshot()
    rows = con.execute(
        f"SELECT {_MAT_SELECT} FROM materializations "
        "WHERE outcome IN ('materialized', 'failed') "
        "QUALIFY row_number() OVER (PARTITION BY asset, outcome ORDER BY id DESC) = 1"
    ).fetchall()
    for m in _materializations(rows):
        (snap.current if m.outcome == "materialized" else snap.failures)[m.asset] = m
    # A failure only counts while it is the latest attempt.
    for name, failed in list(snap.failures.items()):
        good = snap.current.get(name)
        if good is not None and good.id > failed.id:
            del snap.failures[name]
    # The latest observation of each source, and when its version was first seen: a
    # touched file is observed again, but its content (and freshness) did not change.
    for source, run_id, observed_at, version, stat_key, changed_at in con.execute(
        "WITH latest AS (SELECT * FROM source_observations QUALIFY row_number() OVER "
        "(PARTITION BY source ORDER BY observed_at DESC) = 1) "
        "SELECT l.source, l.run_id, l.observed_at, l.version, l.stat_key, "
        "(SELECT min(o.observed_at) FROM source_observations o WHERE o.source = l.source "
        "AND o.version = l.version) FROM latest l"
    ).fetchall():
        snap.observations[source] = Observation(
            source, version, stat_key, observed_at, run_id, changed_at
        )
    (snap.last_run_id,) = con.execute("SELECT coalesce(max(run_id), 0) FROM runs").fetchall()[0]
    (snap.last_materialization_id,) = con.execute(
        "SELECT coalesce(max(id), 0) FROM materializations"
    ).fetchall()[0]
    return snap


_INPUTS = [c for c, _ in _MAT_COLUMNS].index("inputs")
_SCHEMA_COLUMN = [c for c, _ in _MAT_COLUMNS].index("schema")


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    rows = con.execute("SELECT value FROM assetflow_meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else 0


def _check_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a state database written by a newer assetflow, reading or writing."""
    found = _schema_version(con)
    if found > SCHEMA_VERSION:
        raise StateError(
            f"the state database has schema version {found}, newer than this assetflow "
            f"understands ({SCHEMA_VERSION}); upgrade assetflow."
        )


def _materializations(rows: Sequence[Sequence[Any]]) -> list[Materialization]:
    # One json.loads for every row's inputs: planning reads 10 000 rows per run.
    inputs = json.loads("[" + ",".join(r[_INPUTS] or "{}" for r in rows) + "]")
    found = []
    for row, raw in zip(rows, inputs, strict=True):
        values = list(row)
        values[_INPUTS] = {k: (v[0], v[1]) for k, v in raw.items()}
        if values[_SCHEMA_COLUMN] is not None:
            values[_SCHEMA_COLUMN] = _schema(values[_SCHEMA_COLUMN])
        found.append(Materialization(*values))
    return found


def _schema(text: str) -> list[tuple[str, str]] | None:
    """A recorded schema; ``None`` (unknown: read from the file) when it is not one.

    Only assetflow writes this column, but a hand editing the database must not
    make every command fail: the types are then read from the stored file.
    """
    try:
        columns = json.loads(text)
    except ValueError:
        return None
    if not isinstance(columns, list) or not all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c) for c in columns
    ):
        return None
    return [(n, t) for n, t in columns]


def _insert_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows`` with one list parameter per column, unnested.

    That is ~100x faster than ``executemany``. Converting a list still costs
    ~3 µs an item, so columns that are all NULL are left out and columns with
    one value throughout are passed once.
    """
    if not rows:
        return
    names, selects, params = [], [], []
    for (name, sql_type), values in zip(columns, zip(*rows, strict=True), strict=True):
        first = values[0]
        if all(v == first and type(v) is type(first) for v in values):
            if first is None:
                continue
            params.append(first)
            selects.append(f"${len(params)}::{sql_type}")
        else:
            params.append(list(values))
            selects.append(f"unnest(${len(params)}::{sql_type}[])")
        names.append(name)
    select = ", ".join(selects)
    if not any(s.startswith("unnest(") for s in selects):
        # Every column is constant: something must still make one row per input row.
        select = f"* EXCLUDE (_row) FROM (SELECT {select}, unnest(range({len(rows)})) AS _row)"
    con.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT {select}", params).fetchall()


@contextlib.contextmanager
def run_lock(
    state_dir: Path, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the exclusive run lock of ``state_dir`` for the duration of a run.

    Raises:
        StateError: another run held the lock for longer than ``timeout`` seconds.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    timeout = _env_timeout(600.0) if timeout is None else timeout
    with path.open("a+") as f:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    f.seek(0)
                    on_wait(f.read().strip() or "another process")
                waited = True
                if time.monotonic() >= deadline:
                    raise StateError(
                        f"another assetflow run holds {path} for more than {timeout:g} s; "
                        "wait for it to finish, or raise ASSETFLOW_LOCK_TIMEOUT."
                    ) from None
                time.sleep(0.05 + random.random() * 0.1)
        try:
            f.seek(0)
            f.truncate()
            f.write(f"pid {os.getpid()} on {socket.gethostname()}")
            f.flush()
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def _env_timeout(default: float = 30.0) -> float:
    raw = os.environ.get("ASSETFLOW_LOCK_TIMEOUT")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise DefinitionError(
            f"ASSETFLOW_LOCK_TIMEOUT={raw!r} is not a number of seconds; set it to one, "
            "such as 60, or unset it."
        )
    return value


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return "unknown"


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
