"""Typed events of a run, for progress displays, JSON lines and other subscribers.

A run calls its ``on_event`` subscriber with each event as it happens, from
the coordinating thread, in order. Every event has a ``kind`` (``"asset_started"``)
and a JSON form (:meth:`Event.to_json`) that ``--format jsonl`` prints one per line.

Example:
    >>> AssetStarted(run_id=1, time=0.0, asset="orders", attempt=1).kind
    'asset_started'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened in a run, at ``time`` (seconds since the epoch)."""

    run_id: int | None
    time: float
    kind: ClassVar[str] = "event"

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object: ``{"event": kind, ...fields}``."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"event": self.kind, **{k: _jsonable(v) for k, v in fields.items()}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    """A run began: what it will consider, and how it runs."""

    kind: ClassVar[str] = "run_started"

    selection: str
    assets: tuple[str, ...]
    workers: int
    executor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetPlanned(Event):
    """An asset will run: its causes, in words."""

    kind: ClassVar[str] = "asset_planned"

    asset: str
    causes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetStarted(Event):
    """An attempt began (attempt 1, 2, ... with retries)."""

    kind: ClassVar[str] = "asset_started"

    asset: str
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetMaterialized(Event):
    """An asset's new value is stored; it becomes current when its batch is recorded."""

    kind: ClassVar[str] = "asset_materialized"

    asset: str
    rows: int | None
    duration_s: float
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetFresh(Event):
    """An asset did not need to run (including early cutoff)."""

    kind: ClassVar[str] = "asset_fresh"

    asset: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetSkipped(Event):
    """An asset could not run: an upstream failed, or is stale and not selected."""

    kind: ClassVar[str] = "asset_skipped"

    asset: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetRetried(Event):
    """An attempt failed and another follows after ``delay_s``."""

    kind: ClassVar[str] = "asset_retried"

    asset: str
    attempt: int
    error: str
    delay_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetFailed(Event):
    """An asset failed for good: its last attempt's error, with the user's frames."""

    kind: ClassVar[str] = "asset_failed"

    asset: str
    error: str
    traceback: str | None
    attempts: int
    output: str | None = None  # what the last attempt printed and logged (its last 64 KiB)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckEvaluated(Event):
    """A data check ran on an asset's new data, before it was published."""

    kind: ClassVar[str] = "check_evaluated"

    asset: str
    check: str
    severity: str
    passed: bool
    violations: int
    message: str
    sample: str | None = None  # JSON of up to 5 violating rows, when it failed

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, its violating rows as a list of objects."""
        import json

        doc = Event.to_json(self)
        doc["sample"] = json.loads(self.sample) if self.sample else None
        return doc


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetCancelled(Event):
    """An asset was interrupted, or never started because the run was cancelled."""

    kind: ClassVar[str] = "asset_cancelled"

    asset: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Event):
    """A run ended: ``success``, ``failed``, ``cancelled`` or ``error``, with counts."""

    kind: ClassVar[str] = "run_finished"

    outcome: str
    counts: dict[str, int]
    duration_s: float


#: What ``materialize(on_event=...)`` takes.
Subscriber = Callable[[Event], None]

ALL_EVENTS: tuple[type[Event], ...] = (
    RunStarted,
    AssetPlanned,
    AssetStarted,
    AssetMaterialized,
    AssetFresh,
    AssetSkipped,
    AssetRetried,
    AssetFailed,
    CheckEvaluated,
    AssetCancelled,
    RunFinished,
)
