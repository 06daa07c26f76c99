"""Freshness policies: how old an asset or source may get before it is overdue.

A policy is one of:

* a duration, ``"6h"``: the maximum age (units s, m, h, d, w);
* a mapping of ``warn`` and/or ``error`` durations (``max_age`` is a synonym of
  ``error``), ``{"warn": "1h", "error": "6h"}``;
* a cron deadline, ``{"cron": "0 6 * * *", "within": "1h", "timezone":
  "Europe/Paris"}``: for the latest tick ``T`` of the cron expression (in the
  timezone, UTC by default) with ``T + within <= now``, a materialization not
  older than ``T`` is expected.

Policies are validated when an asset is declared and judged by :func:`evaluate`
against an injected ``now``; the same function judges a source by the time of
its last observed change. Cron expressions are read by ``cronsim``, imported
only when a cron policy is met so that ``import assetflow`` stays light.

Example:
    >>> parse_duration("90m", "x")
    datetime.timedelta(seconds=5400)
    >>> evaluate("6h", dt.datetime(2026, 1, 1, 0), dt.datetime(2026, 1, 1, 7, 2), "x").detail
    'last materialized 7h 2m ago, freshness is 6h'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from assetflow.errors import DefinitionError

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_KEYS = ("warn", "error", "max_age", "within")
POLICY_KEYS = ("cron", "error", "max_age", "timezone", "warn", "within")


@dataclass(frozen=True, slots=True)
class Freshness:
    """How an asset stands against its freshness policy at a given time."""

    level: str  # "ok" | "warn" | "error"
    detail: str  # "last materialized 7h 2m ago, freshness is 6h"
    deadline: dt.datetime | None = None  # cron policies: the tick judged against, naive UTC


@dataclass(frozen=True, slots=True)
class _MaxAge:
    warn: dt.timedelta | None
    error: dt.timedelta | None


@dataclass(frozen=True, slots=True)
class _Deadline:
    cron: str
    within: dt.timedelta
    zone: dt.tzinfo
    zone_name: str


def parse_duration(text: str, where: str) -> dt.timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"2d"``, ``"1w"`` as a timedelta.

    Raises:
        DefinitionError: ``text`` is not a number and a unit.
    """
    m = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise DefinitionError(
            f"{where}: freshness {text!r} is not a duration; write a number and a unit "
            "(s, m, h, d, w), such as '6h'."
        )
    return dt.timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])


def validate_policy(policy: object, where: str) -> str | Mapping[str, Any]:
    """Return ``policy`` if it is a well-formed freshness policy.

    Raises:
        DefinitionError: an unknown key, a duration that does not parse, no limit,
            a cron expression or timezone that does not exist, or cron mixed with
            ``warn``/``error``.
    """
    _parse(policy, where)
    return cast("str | Mapping[str, Any]", policy)  # _parse accepts nothing else


def max_age_of(policy: object, where: str) -> dt.timedelta | None:
    """The maximum age a policy allows (its error level), if it sets one."""
    if isinstance(policy, str):
        return parse_duration(policy, where)
    if isinstance(policy, Mapping):
        limit = policy.get("error") or policy.get("max_age")
        return parse_duration(limit, where) if isinstance(limit, str) else None
    return None


def evaluate(
    policy: object, last: dt.datetime | None, now: dt.datetime, where: str
) -> Freshness | None:
    """Judge ``last`` (the last materialization or observed change) against ``policy``.

    ``last`` and ``now`` are naive UTC. ``last=None`` (never materialized or
    observed) is past every limit: an error for a max-age policy (a warning if
    it sets only ``warn``) and for a cron deadline that has passed. Returns
    ``None`` when there is no policy.

    Raises:
        DefinitionError: the policy is not well formed.
    """
    if policy is None:
        return None
    rule = _parse(policy, where)
    if isinstance(rule, _MaxAge):
        return _evaluate_max_age(rule, last, now)
    return _evaluate_deadline(rule, last, now)


def format_duration(delta: dt.timedelta) -> str:
    """A short human duration: ``3h 5m``, ``2d 1h``, ``45s``."""
    seconds = int(delta.total_seconds())
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if seconds >= size:
            rest = (seconds % size) // sub_size
            return f"{seconds // size}{unit}" + (f" {rest}{sub}" if rest else "")
    return f"{seconds // 60}m" if seconds >= 60 else f"{seconds}s"


def _parse(policy: object, where: str) -> _MaxAge | _Deadline:
    if isinstance(policy, str):
        return _MaxAge(warn=None, error=parse_duration(policy, where))
    if not isinstance(policy, Mapping):
        raise DefinitionError(
            f"{where}: freshness must be a duration such as '6h' or a mapping such as "
            "{'warn': '1h', 'error': '6h'}; fix the value."
        )
    unknown = sorted(set(policy) - set(POLICY_KEYS))
    if unknown:
        raise DefinitionError(
            f"{where}: freshness has unknown key {unknown[0]!r}; known keys are "
            f"{', '.join(POLICY_KEYS)}."
        )
    durations = {k: parse_duration(policy[k], where) for k in _DURATION_KEYS if k in policy}
    if not any(k in policy for k in ("warn", "error", "max_age", "cron")):
        raise DefinitionError(
            f"{where}: freshness {dict(policy)!r} sets no limit; give 'error', 'warn' or 'cron'."
        )
    if "cron" in policy:
        return _parse_deadline(policy, durations, where)
    for key in ("within", "timezone"):
        if key in policy:
            raise DefinitionError(
                f"{where}: freshness {key!r} only applies to a cron deadline; "
                f"add 'cron' or drop {key!r}."
            )
    if "error" in policy and "max_age" in policy:
        raise DefinitionError(
            f"{where}: freshness gives both 'error' and its synonym 'max_age'; keep one."
        )
    warn, error = durations.get("warn"), durations.get("error", durations.get("max_age"))
    if warn is not None and error is not None and warn > error:
        raise DefinitionError(
            f"{where}: freshness warn {policy['warn']!r} is longer than its error limit; "
            "make warn the shorter duration."
        )
    return _MaxAge(warn=warn, error=error)


def _parse_deadline(
    policy: Mapping[str, Any], durations: Mapping[str, dt.timedelta], where: str
) -> _Deadline:
    expr = policy["cron"]
    if not isinstance(expr, str):
        raise DefinitionError(f"{where}: freshness cron must be a string such as '0 6 * * *'.")
    mixed = [k for k in ("warn", "error", "max_age") if k in policy]
    if mixed:
        raise DefinitionError(
            f"{where}: a cron freshness policy takes 'within' and 'timezone', not "
            f"{mixed[0]!r}; drop {mixed[0]!r} or use a max-age policy such as "
            "{'warn': '1h', 'error': '6h'}."
        )
    from cronsim import CronSim, CronSimError  # a cron policy is rare; keep imports light

    try:
        CronSim(expr, dt.datetime(2000, 1, 1))
    except CronSimError as exc:
        raise DefinitionError(
            f"{where}: freshness cron {expr!r} is not a cron expression ({exc}); write "
            "five fields 'minute hour day month weekday', such as '0 6 * * *'."
        ) from None
    zone_name = policy.get("timezone", "UTC")
    return _Deadline(
        expr, durations.get("within", dt.timedelta(0)), _zone(zone_name, where), zone_name
    )


def _zone(name: object, where: str) -> dt.tzinfo:
    import zoneinfo  # reads the tz database path at import: only when needed

    if name == "UTC":
        return dt.UTC  # needs no tz database (Windows has none without tzdata)
    try:
        if isinstance(name, str):
            return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    raise DefinitionError(
        f"{where}: freshness timezone {name!r} is not a known IANA timezone; "
        "write a name such as 'Europe/Paris' or 'UTC'."
    )


def _evaluate_max_age(rule: _MaxAge, last: dt.datetime | None, now: dt.datetime) -> Freshness:
    age = None if last is None else max(now - last, dt.timedelta(0))
    seen = "never materialized" if age is None else f"last materialized {format_duration(age)} ago"
    if rule.error is not None and (age is None or age > rule.error):
        return Freshness("error", f"{seen}, freshness is {format_duration(rule.error)}")
    if rule.warn is not None and (age is None or age > rule.warn):
        return Freshness("warn", f"{seen}, warn after {format_duration(rule.warn)}")
    if rule.error is not None:
        return Freshness("ok", f"{seen}, freshness is {format_duration(rule.error)}")
    return Freshness("ok", f"{seen}, warn after {format_duration(rule.warn or dt.timedelta(0))}")


def _evaluate_deadline(rule: _Deadline, last: dt.datetime | None, now: dt.datetime) -> Freshness:
    tick = _last_tick(rule, now - rule.within)
    if tick is None:
        return Freshness("ok", f"no {rule.cron!r} deadline has passed yet")
    local = tick.replace(tzinfo=dt.UTC).astimezone(rule.zone)
    grace = f" (+{format_duration(rule.within)} grace)" if rule.within else ""
    deadline = f"the {local:%H:%M} {rule.zone_name} deadline of {local:%Y-%m-%d}{grace}"
    if last is not None and last >= tick:
        return Freshness("ok", f"last materialized {last:%Y-%m-%d %H:%M} UTC, met {deadline}", tick)
    seen = "never materialized" if last is None else f"last materialized {last:%Y-%m-%d %H:%M} UTC"
    return Freshness("error", f"missed {deadline}; {seen}", tick)


def _last_tick(rule: _Deadline, cutoff: dt.datetime) -> dt.datetime | None:
    """The latest cron tick at or before ``cutoff`` (both naive UTC)."""
    from cronsim import CronSim

    # Reverse iteration yields ticks strictly before its start, and cron ticks
    # fall on whole seconds: start one second past the truncated cutoff.
    start = cutoff.replace(microsecond=0, tzinfo=dt.UTC) + dt.timedelta(seconds=1)
    try:
        tick = next(CronSim(rule.cron, start.astimezone(rule.zone), reverse=True))
    except StopIteration:  # cronsim gives up after 50 years without a match
        return None
    return tick.astimezone(dt.UTC).replace(tzinfo=None)
