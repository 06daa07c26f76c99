"""Rendering results for people (text) and programs (JSON documents with ``schema_version``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from assetflow.plan import AssetStatus, Cause
from assetflow.run import AssetResult, RunResult
from assetflow.state import Materialization

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
            }
            for a in result.assets
        ],
    }


def result_line(a: AssetResult) -> str:
    """One line per asset as a run goes: ``materialized orders (200 rows, 0.03 s)``."""
    if a.outcome == "materialized":
        rows = f"{a.rows} rows, " if a.rows is not None else ""
        why = f" [{a.causes[0].detail}]" if a.causes else ""
        return f"materialized {a.name} ({rows}{a.duration_s:.2f} s){why}"
    if a.outcome == "failed":
        return f"FAILED {a.name}: {a.error}"
    if a.outcome == "skipped":
        return f"skipped {a.name} {(a.error or '').removeprefix('skipped ')}"
    return f"{a.outcome} {a.name}"


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
    lines = []
    for a in result.assets:
        if a.outcome == "failed":
            lines.append(f"\nFAILED {a.name}: {a.error}")
            if a.traceback:
                lines.extend("  " + line for line in a.traceback.rstrip().splitlines())
    if result.run_id is None:
        return "Nothing selected: no asset matches the selection."
    parts = [
        f"{result.count(k)} {k}"
        for k in ("materialized", "fresh", "failed", "skipped", "cancelled")
        if result.count(k)
    ]
    lines.append(f"Run {result.run_id}: {', '.join(parts) or 'nothing selected'}.")
    return "\n".join(lines).lstrip("\n")


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
        cause = s.causes[0].detail if s.causes else ""
        more = f" (+{len(s.causes) - 1} more)" if len(s.causes) > 1 else ""
        rows.append((s.name, s.status.value, when, cause + more))
    return rows


def why_text(s: AssetStatus) -> str:
    """``status --why``: every cause in words."""
    if not s.causes:
        return f"{s.name} is fresh."
    lines = [f"{s.name} is {s.status.value}:"]
    lines.extend(f"  - {c.detail}" for c in s.causes)
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
                (m.error or "")[:60],
            )
        )
    return out
