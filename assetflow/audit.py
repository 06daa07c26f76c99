"""What ``assetflow check`` finds: staleness, freshness and data checks, without materializing.

Findings come from the same planner that ``status`` uses, judged at an
injected ``now``, plus every asset's checks re-run against its current data
(read-only, in an in-memory DuckDB). Rendering them for people and CI
systems is :mod:`assetflow.findings`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from assetflow.checks import (
    CheckResult,
    as_checks,
    headline,
    referenced_assets,
    run_checks,
    run_sql_checks,
)
from assetflow.definition import Asset
from assetflow.findings import Evaluated, Finding
from assetflow.plan import AssetStatus, CauseKind, Status

if TYPE_CHECKING:
    from assetflow.api import LoadedProject
    from assetflow.state import Materialization

_KIND_OF_STATUS = {
    Status.MISSING: "missing",
    Status.FAILED: "failed",
    Status.STALE: "stale",
    Status.OVERDUE: "overdue",
}


def audit(
    loaded: LoadedProject, names: Sequence[str], *, now: dt.datetime
) -> tuple[list[Finding], list[Evaluated]]:
    """Every finding about ``names``, and what was evaluated (for JUnit)."""
    from assetflow.run import statuses
    from assetflow.state import StateStore

    graph = loaded.graph
    found = statuses(graph, loaded.config, loaded.project.package, now=now)
    current = StateStore(loaded.config.state_dir).snapshot().current
    findings: list[Finding] = []
    evaluated: list[Evaluated] = []
    for name in names:
        asset = graph[name]
        checks = tuple(c.label for c in as_checks(asset.options.checks, asset.where))
        evaluated.append(Evaluated(name, asset.file, checks))
        findings.extend(_status_findings(found[name], asset.file, asset.line))
    checked = [
        n for n in names if graph[n].options.checks or graph[n].custom_checks or graph[n].sql_checks
    ]
    check_findings, ran = _check_findings(loaded, checked, current)
    findings.extend(check_findings)
    evaluated = [replace(e, ran=len(ran.get(e.asset, ()))) for e in evaluated]
    return findings, evaluated


def _status_findings(status: AssetStatus, file: str, line: int | None) -> list[Finding]:
    result = []
    kind = _KIND_OF_STATUS.get(status.status)
    if kind is not None:
        own = [c for c in status.causes if c.kind is not CauseKind.FRESHNESS_WARNING]
        message = "; ".join(c.detail for c in own)
        if not message.startswith(kind):  # "stale: code changed (...)"; overdue says it already
            message = f"{kind}: {message}"
        result.append(Finding(status.name, kind, "error", message, file, line))
    for cause in status.causes:
        if cause.kind is CauseKind.FRESHNESS_WARNING:
            result.append(Finding(status.name, "overdue", "warn", cause.detail, file, line))
    return result


def _check_findings(
    loaded: LoadedProject, names: Sequence[str], current: Mapping[str, Materialization]
) -> tuple[list[Finding], dict[str, list[CheckResult]]]:
    """Every check of ``names`` re-run against its current data, and each asset's results."""
    import duckdb

    from assetflow.compute import Available, Engine, data_query, run_custom_checks
    from assetflow.storage import TABLE, Storage

    graph = loaded.graph
    storage = Storage(loaded.config.state_dir)
    engine = Engine(storage, loaded.config.root)

    def queries(written: Iterable[str]) -> dict[str, str]:
        found = {}
        for w in written:
            target = graph.lookup(w)
            if target is not None:
                q = data_query(loaded.config.root, storage, graph[target], current.get(target))
                if q is not None:
                    found[w] = q
        return found

    def values(written: Iterable[str]) -> dict[str, Available]:
        """What ``@check`` parameters read: current stored values, and sources."""
        found = {}
        for w in written:
            target = graph.lookup(w)
            if target is None:
                continue
            m = current.get(target)
            if graph[target].kind == "source":
                found[w] = Available(source=graph[target])
            elif m is not None:
                found[w] = Available(
                    stored_format=m.format, stored_location=m.location, inline=m.value
                )
        return found

    findings: list[Finding] = []
    ran: dict[str, list[CheckResult]] = {}
    con = duckdb.connect()
    try:
        for name in names:
            asset = graph[name]
            m = current.get(name)
            if m is None:
                continue  # missing data is already a finding
            results = ran.setdefault(name, [])
            if asset.custom_checks:
                value = storage.load(m.format or "", m.location, m.value)
                params = sorted({p for c in asset.custom_checks for p in c.reads})
                results += run_custom_checks(engine, asset, value, values(params))
            data = data_query(loaded.config.root, storage, asset, m)
            if m.format != TABLE or data is None:
                findings += _failures(name, asset, results)
                continue  # built-in and SQL checks need a table
            checks = as_checks(asset.options.checks, asset.where)
            refs = queries(o for c in checks for o in referenced_assets(c))
            results += run_checks(con, checks, data, refs, asset.where)
            if asset.sql_checks:
                reads = {t for c in asset.sql_checks for t in c.reads if t != name.lower()}
                results += run_sql_checks(con, asset.sql_checks, name, data, queries(reads))
            findings += _failures(name, asset, results)
    finally:
        con.close()
        engine.close()
    return findings, ran


def _failures(name: str, asset: Asset, results: Sequence[CheckResult]) -> list[Finding]:
    return [
        Finding(
            name,
            "check",
            r.severity,
            headline(r),
            asset.file,
            asset.line,
            r.check,
            r.sample,
        )
        for r in results
        if not r.passed
    ]
