"""Pure planning: graph + recorded state + ``now`` → each asset's status and causes.

Nothing here does IO or reads a clock. The runner calls :func:`assess` again
for each asset just before its turn, with the records its upstreams produced
earlier in the run: an asset that was stale only because an upstream was
stale is then found fresh when that upstream came out unchanged (early
cutoff), with no special case.

Example:
    >>> from assetflow.definition import Asset, AssetOptions
    >>> a = Asset("a", "python", "a.py", 1, "default", AssetOptions())
    >>> assess(a, record=None, failure=None, code_version="c1", upstreams={}, now=None).status
    <Status.MISSING: 'missing'>
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from assetflow.definition import Asset
from assetflow.freshness import evaluate


class Status(StrEnum):
    """An asset's status, most urgent first."""

    MISSING = "missing"
    FAILED = "failed"
    STALE = "stale"
    OVERDUE = "overdue"
    FRESH = "fresh"


class CauseKind(StrEnum):
    """Why an asset is not fresh."""

    NEVER_MATERIALIZED = "never_materialized"
    DATA_MISSING = "data_missing"
    CODE_CHANGED = "code_changed"
    UPSTREAM_CHANGED = "upstream_changed"
    SOURCE_CHANGED = "source_changed"
    DEPS_CHANGED = "deps_changed"
    UPSTREAM_STALE = "upstream_stale"
    OVERDUE = "overdue"
    FRESHNESS_WARNING = "freshness_warning"
    LAST_RUN_FAILED = "last_run_failed"
    SOURCE_MISSING = "source_missing"
    EXPORT_CHANGED = "export_changed"
    CHECKS_CHANGED = "checks_changed"


_STATUS_OF: dict[CauseKind, Status] = {
    CauseKind.NEVER_MATERIALIZED: Status.MISSING,
    CauseKind.DATA_MISSING: Status.MISSING,
    CauseKind.SOURCE_MISSING: Status.MISSING,
    CauseKind.LAST_RUN_FAILED: Status.FAILED,
    CauseKind.CODE_CHANGED: Status.STALE,
    CauseKind.UPSTREAM_CHANGED: Status.STALE,
    CauseKind.SOURCE_CHANGED: Status.STALE,
    CauseKind.DEPS_CHANGED: Status.STALE,
    CauseKind.UPSTREAM_STALE: Status.STALE,
    CauseKind.EXPORT_CHANGED: Status.STALE,
    # Its data is what a build would make; only its checks' verdict is not current:
    # materialize re-evaluates them on the current data, without recomputing it.
    CauseKind.CHECKS_CHANGED: Status.FRESH,
    CauseKind.OVERDUE: Status.OVERDUE,
    # A warning is reported, but the asset stays fresh: nothing runs because of it.
    CauseKind.FRESHNESS_WARNING: Status.FRESH,
}
_URGENCY = list(Status)
#: Causes sort by the urgency of the status they imply, most urgent first.
_RANK = {kind: _URGENCY.index(status) for kind, status in _STATUS_OF.items()}
# Looked up once: attribute access on an Enum class is slow on Python 3.11.
_NOT_BUILT = frozenset({Status.MISSING, Status.STALE})


@dataclass(frozen=True, slots=True)
class Cause:
    """One reason an asset is not fresh, in words: ``code changed (a1b2c3d → 9f8e7d6)``."""

    kind: CauseKind
    detail: str
    upstream: str | None = None  # the upstream this cause is about, if any


@dataclass(frozen=True, slots=True)
class Record:
    """What the planner needs of an asset's current (last good) materialization.

    ``inputs`` maps each upstream it was built from to that upstream's data
    version and the run that produced it (``None`` for sources).
    """

    run_id: int
    code_version: str
    data_version: str
    inputs: Mapping[str, tuple[str, int | None]]
    finished_at: dt.datetime
    data_present: bool = True


@dataclass(frozen=True, slots=True)
class Upstream:
    """An upstream as the downstream sees it now: current data version and status."""

    data_version: str | None  # None: no data (missing source or never materialized)
    run_id: int | None
    status: Status
    is_source: bool
    detail: str = ""  # why a missing source is missing


@dataclass(frozen=True, slots=True)
class AssetStatus:
    """An asset's status with every cause, most urgent first."""

    name: str
    status: Status
    causes: tuple[Cause, ...]
    last_materialized: dt.datetime | None

    @property
    def fresh(self) -> bool:
        return self.status is Status.FRESH


def _short(version: str) -> str:
    return version[:7]


def assess(
    asset: Asset,
    *,
    record: Record | None,
    failure: str | None,
    code_version: str | None,
    upstreams: Mapping[str, Upstream],
    now: dt.datetime | None,
    exports: Sequence[str] = (),
    checks_changed: bool = False,
) -> AssetStatus:
    """The status of ``asset`` and all its causes.

    Args:
        record: its current (last good) materialization, or ``None``.
        failure: the error of its last attempt if that attempt failed, else ``None``.
        code_version: its code version now.
        upstreams: every upstream of the asset, by name, as it stands now.
        now: the time freshness is judged at (``None`` skips freshness).
        exports: why its exported files are not what its current materialization
            wrote (``export out/x.csv is gone``); empty when they are.
        checks_changed: its checks changed since they judged its current data.
    """
    causes: list[Cause] = []
    if record is None:
        causes.append(Cause(CauseKind.NEVER_MATERIALIZED, "never materialized"))
    elif not record.data_present:
        causes.append(Cause(CauseKind.DATA_MISSING, f"stored data of run {record.run_id} is gone"))
    if failure is not None:
        causes.append(Cause(CauseKind.LAST_RUN_FAILED, f"last run failed: {failure}"))
    if record is not None:
        causes.extend(_changes(asset, record, code_version, upstreams))
        causes.extend(Cause(CauseKind.EXPORT_CHANGED, detail) for detail in exports)
        if checks_changed:
            detail = "checks changed since they judged its current data"
            causes.append(Cause(CauseKind.CHECKS_CHANGED, detail))
        overdue = _overdue(asset, record, now)
        if overdue:
            causes.append(overdue)
    causes.extend(_stale_upstreams(upstreams))
    if len(causes) > 1:
        causes.sort(key=lambda c: _RANK[c.kind])  # stable: equally urgent causes keep their order
    return AssetStatus(
        name=asset.name,
        status=_STATUS_OF[causes[0].kind] if causes else Status.FRESH,
        causes=tuple(causes),
        last_materialized=record.finished_at if record else None,
    )


def _changes(
    asset: Asset, record: Record, code_version: str | None, upstreams: Mapping[str, Upstream]
) -> list[Cause]:
    causes = []
    if code_version is not None and code_version != record.code_version:
        causes.append(
            Cause(
                CauseKind.CODE_CHANGED,
                f"code changed ({_short(record.code_version)} → {_short(code_version)})",
            )
        )
    added = sorted(set(upstreams) - set(record.inputs))
    removed = sorted(set(record.inputs) - set(upstreams))
    if added or removed:
        parts = [f"+{n}" for n in added] + [f"-{n}" for n in removed]
        causes.append(Cause(CauseKind.DEPS_CHANGED, f"upstreams changed ({', '.join(parts)})"))
    for name, up in upstreams.items():
        built = record.inputs.get(name)
        if built is None or up.data_version is None or built[0] == up.data_version:
            continue
        if up.is_source:
            detail = f"source {name} changed ({_short(built[0])} → {_short(up.data_version)})"
            causes.append(Cause(CauseKind.SOURCE_CHANGED, detail, name))
        else:
            detail = f"upstream {name} changed (run {built[1]} → run {up.run_id})"
            causes.append(Cause(CauseKind.UPSTREAM_CHANGED, detail, name))
    return causes


def _stale_upstreams(upstreams: Mapping[str, Upstream]) -> list[Cause]:
    causes = []
    for name, up in upstreams.items():
        if up.is_source and up.data_version is None:
            causes.append(
                Cause(CauseKind.SOURCE_MISSING, f"source {name} is missing{up.detail}", name)
            )
        elif not up.is_source and up.status in _NOT_BUILT:
            causes.append(Cause(CauseKind.UPSTREAM_STALE, f"upstream {name} is {up.status}", name))
    return causes


def _overdue(asset: Asset, record: Record, now: dt.datetime | None) -> Cause | None:
    """The freshness policy's verdict: ``overdue`` at error level, a warning at warn level."""
    if now is None or asset.options.freshness is None:
        return None
    verdict = evaluate(asset.options.freshness, record.finished_at, now, asset.where)
    if verdict is None or verdict.level == "ok":
        return None
    if verdict.level == "warn":
        return Cause(CauseKind.FRESHNESS_WARNING, f"freshness warning: {verdict.detail}")
    return Cause(CauseKind.OVERDUE, f"overdue: {verdict.detail}")


class Action(StrEnum):
    """What the runner does with an asset at its turn."""

    RUN = "run"
    FRESH = "fresh"
    SKIP = "skip"
    FAIL = "fail"  # it cannot run: a source it reads is missing


def decide(
    status: AssetStatus,
    *,
    upstreams: Mapping[str, Upstream],
    ran_upstreams: Mapping[str, str],
    force: bool,
) -> tuple[Action, str]:
    """What to do with an asset at its turn in a run, and why (for a skip).

    Args:
        status: its status assessed against the upstreams' records as they are now.
        upstreams: its upstreams as they are now.
        ran_upstreams: the outcome of each upstream that had its turn in this run
            (``materialized``, ``fresh``, ``failed``, ``skipped``, ``cancelled``).
        force: run regardless of status.
    """
    for name, outcome in ran_upstreams.items():
        if outcome in ("failed", "skipped", "cancelled"):
            return Action.SKIP, f"upstream {name} {outcome}"
    for name, up in upstreams.items():
        if up.data_version is None and up.is_source:
            # Not a skip: a scheduled run must not go quietly stale when an input vanished.
            return Action.FAIL, f"source {name} is missing{up.detail}"
        if up.data_version is None:
            return Action.SKIP, f"upstream {name} has no data; select it too (+{status.name})"
    if force:
        return Action.RUN, ""
    if status.fresh:
        return Action.FRESH, ""
    actionable = [
        c
        for c in status.causes
        if not (c.kind is CauseKind.UPSTREAM_STALE and c.upstream not in ran_upstreams)
    ]
    if not actionable:
        # Stale only because an upstream outside the selection is stale: running now
        # would compute from the same inputs, so wait for that upstream instead.
        names = ", ".join(sorted(c.upstream or "" for c in status.causes))
        return Action.SKIP, f"upstream {names} is stale and not selected"
    return Action.RUN, ""
