"""Rendering results for people (text) and programs (JSON documents with ``schema_version``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from assetflow.plan import AssetStatus, Cause
from assetflow.progress import first_line, format_duration
from assetflow.run import RunResult
from assetflow.state import Materialization, RunRecord

SCHEMA_VERSION = 1


def _causes(causes: Sequence[Cause]) -> list[dict[str, str]]:
    return [{"kind": c.kind.value, "detail": c.detail} for c in causes]


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.UTC).isoformat() if value else None


def run_json(result: RunResult) -> dict[str, Any]:
    """The ``materialize --format json`` document."""
    key = "action" if result.dry_run else "outcome"
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": result.run_id,
        "dry_run": result.dry_run,
        "assets": [
            {
                "name": a.name,
                key: a.outcome,
                "causes": _causes(a.causes),
                "rows": a.rows,
                "duration_s": round(a.duration_s, 6),
                "error": a.error,
                "output": a.output,
            }
            for a in result.assets
        ],
    }


def run_text(result: RunResult) -> str:
    """The end-of-run summary (or the plan, for a dry run)."""
    if result.dry_run:
        lines = []
        for a in result.assets:
            why = "; ".join(c.detail for c in a.causes)
            extra = f" ({a.error})" if a.error else ""
            lines.append(
                f"{a.outcome:<8} {a.name}{extra}"
                + (f": {why}" if why and a.outcome != "fresh" else "")
            )
        counts = ", ".join(
            f"{result.count(k)} {k}"
            for k in ("run", "check", "fail", "skipped", "fresh")
            if result.count(k)
        )
        lines.append(f"Plan: {counts or 'nothing selected'}. Nothing was run (--dry-run).")
        return "\n".join(lines)
    if result.run_id is None:
        return "Nothing selected: no asset matches the selection."
    lines = [failures_text(result)] if failures_text(result) else []
    parts = [
        f"{result.count(k)} {k}"
        for k in ("materialized", "fresh", "failed", "skipped", "cancelled")
        if result.count(k)
    ]
    lines.append(f"Run {result.run_id}: {', '.join(parts) or 'nothing selected'}.")
    return "\n".join(lines).lstrip("\n")


def failures_text(result: RunResult) -> str:
    """What failed and why, with the user's frames of each traceback ("" if nothing failed)."""
    lines = []
    for a in result.assets:
        if a.outcome == "failed":
            lines.append(f"FAILED {a.name}: {_indented(a.error or '')}")
            if a.traceback:
                lines.extend("  " + line for line in a.traceback.rstrip().splitlines())
            lines.extend(output_lines(a.output))
    return "\n".join(lines)


def _indented(text: str, indent: str = "  ") -> str:
    """A multi-line text whose lines after the first are indented under it."""
    return f"\n{indent}".join(line.rstrip() for line in text.strip().splitlines())


def output_lines(output: str | None, indent: str = "  ") -> list[str]:
    """What an attempt printed, under a heading, each line indented ([] if nothing)."""
    if not output:
        return []
    return [f"{indent}output:", *(f"{indent}  | {line}" for line in output.rstrip().splitlines())]


def status_json(statuses: Sequence[AssetStatus]) -> dict[str, Any]:
    """The ``status --format json`` document."""
    return {
        "schema_version": SCHEMA_VERSION,
        "assets": [
            {
                "name": s.name,
                "status": s.status.value,
                "causes": _causes(s.causes),
                "last_materialized": _iso(s.last_materialized),
            }
            for s in statuses
        ],
    }


def status_rows(statuses: Sequence[AssetStatus]) -> list[tuple[str, str, str, str]]:
    """Rows of the ``status`` table: name, status, last materialized, first cause."""
    rows = []
    for s in statuses:
        when = s.last_materialized.strftime("%Y-%m-%d %H:%M:%S") if s.last_materialized else "-"
        # One line, whatever the cause holds: a 25-line DuckDB error must not break the table.
        cause = first_line(s.causes[0].detail) if s.causes else ""
        more = f" (+{len(s.causes) - 1} more)" if len(s.causes) > 1 else ""
        rows.append((s.name, s.status.value, when, cause + more))
    return rows


def why_text(s: AssetStatus, notes: Sequence[str] = ()) -> str:
    """``status --why``: every cause in words, then what its code version sees only roughly."""
    lines = [f"{s.name} is {s.status.value}:" if s.causes else f"{s.name} is fresh."]
    lines.extend(f"  - {_indented(c.detail, '    ')}" for c in s.causes)
    lines.extend(f"  note: {n}." for n in notes)
    return "\n".join(lines)


def history_json(asset: str, rows: Sequence[Materialization]) -> dict[str, Any]:
    """The ``history --format json`` document."""
    return {
        "schema_version": SCHEMA_VERSION,
        "asset": asset,
        "materializations": [
            {
                "id": m.id,
                "run_id": m.run_id,
                "outcome": m.outcome,
                "code_version": m.code_version,
                "data_version": m.data_version,
                "started_at": _iso(m.started_at),
                "finished_at": _iso(m.finished_at),
                "rows": m.rows,
                "bytes": m.bytes,
                "location": m.location,
                "error": m.error,
                "output": m.output,
            }
            for m in rows
        ],
    }


def history_rows(rows: Sequence[Materialization]) -> list[tuple[str, ...]]:
    """Rows of the ``history`` table."""
    out: list[tuple[str, ...]] = []
    for m in rows:
        when = m.finished_at.strftime("%Y-%m-%d %H:%M:%S") if m.finished_at else "-"
        out.append(
            (
                str(m.run_id),
                m.outcome,
                when,
                "-" if m.rows is None else str(m.rows),
                (m.code_version or "")[:7],
                (m.data_version or "")[:7],
                first_line(m.error, 60),
            )
        )
    return out


def _runs_record(r: RunRecord) -> dict[str, Any]:
    counts = {
        k: getattr(r, k) or 0 for k in ("materialized", "fresh", "failed", "skipped", "cancelled")
    }
    duration = (r.finished_at - r.started_at).total_seconds() if r.finished_at else None
    return {
        "run_id": r.run_id,
        "command": r.command,
        "selection": r.selection,
        "user": r.user_name,
        "host": r.host,
        "pid": r.pid,
        "started_at": _iso(r.started_at),
        "finished_at": _iso(r.finished_at),
        "duration_s": duration,
        "outcome": r.outcome,
        "counts": counts,
        "executor": r.executor,
        "workers": r.workers,
    }


def runs_json(runs: Sequence[RunRecord]) -> dict[str, Any]:
    """The ``runs --format json`` document."""
    return {"schema_version": SCHEMA_VERSION, "runs": [_runs_record(r) for r in runs]}


def runs_rows(runs: Sequence[RunRecord]) -> list[tuple[str, ...]]:
    """Rows of the ``runs`` table."""
    rows: list[tuple[str, ...]] = []
    for r in runs:
        doc = _runs_record(r)
        counts = ", ".join(f"{v} {k}" for k, v in doc["counts"].items() if v)
        # As materialize printed it: the same span (run.py), the same format.
        took = format_duration(doc["duration_s"]) if doc["duration_s"] is not None else "-"
        started = r.started_at.strftime("%Y-%m-%d %H:%M:%S")
        rows.append((str(r.run_id), started, took, r.outcome, counts, f"{r.user_name}@{r.host}"))
    return rows


def run_detail_json(run: RunRecord, attempts: Sequence[Materialization]) -> dict[str, Any]:
    """The ``runs show ID --format json`` document."""
    doc = {"schema_version": SCHEMA_VERSION, **_runs_record(run)}
    doc["attempts"] = [
        {
            "asset": m.asset,
            "attempt": m.attempt,
            "outcome": m.outcome,
            "rows": m.rows,
            "started_at": _iso(m.started_at),
            "finished_at": _iso(m.finished_at),
            "error": m.error,
            "output": m.output,
        }
        for m in attempts
    ]
    return doc


def run_detail_text(run: RunRecord, attempts: Sequence[Materialization]) -> str:
    """``runs show ID``: the run, then each attempt."""
    doc = _runs_record(run)
    lines = [
        f"run {run.run_id}: {run.outcome}",
        f"  selection: {run.selection or '(everything)'}",
        f"  by {run.user_name}@{run.host} (pid {run.pid}), {run.executor} x{run.workers}",
        f"  started {doc['started_at']}, finished {doc['finished_at'] or '-'}",
    ]
    for m in attempts:
        extra = f" {m.rows} rows" if m.rows is not None else ""
        retry = f" (attempt {m.attempt})" if m.attempt > 1 else ""
        error = f": {_indented(m.error, '      ')}" if m.error else ""
        lines.append(f"  {m.outcome:<12} {m.asset}{retry}{extra}{error}")
        lines.extend(output_lines(m.output, "    "))
    return "\n".join(lines)


def history_output_text(rows: Sequence[Materialization]) -> str:
    """``history ASSET --output``: each attempt, newest first, with what it printed."""
    lines = []
    for m in rows:
        when = m.finished_at.strftime("%Y-%m-%d %H:%M:%S") if m.finished_at else "-"
        retry = f", attempt {m.attempt}" if m.attempt > 1 else ""
        lines.append(f"run {m.run_id}{retry}: {m.outcome} at {when}")
        lines.extend(output_lines(m.output) or ["  (printed nothing)"])
    return "\n".join(lines)
