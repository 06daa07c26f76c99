"""Freshness policies: how old an asset may get before it is overdue.

A policy is a duration (``"1h"``: the maximum age) or a mapping with
``warn`` and ``error`` durations, or a cron deadline (``cron``, ``within``,
``timezone``). Policies are validated when an asset is declared; ``max_age``
policies are evaluated by the planner against an injected ``now``. Cron
deadlines are accepted and stored; their evaluation comes with ``assetflow
check``.

Example:
    >>> parse_duration("90m", "x")
    datetime.timedelta(seconds=5400)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from assetflow.errors import DefinitionError

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_KEYS = ("warn", "error", "max_age", "within")
POLICY_KEYS = ("cron", "error", "max_age", "timezone", "warn", "within")


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
        DefinitionError: an unknown key, a duration that does not parse, or no limit.
    """
    if isinstance(policy, str):
        parse_duration(policy, where)
        return policy
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
    for key in _DURATION_KEYS:
        if key in policy:
            parse_duration(policy[key], where)
    if not any(k in policy for k in ("warn", "error", "max_age", "cron")):
        raise DefinitionError(
            f"{where}: freshness {dict(policy)!r} sets no limit; give 'error', 'warn' or 'cron'."
        )
    if "cron" in policy and not isinstance(policy["cron"], str):
        raise DefinitionError(f"{where}: freshness cron must be a string such as '0 6 * * *'.")
    return policy


def max_age_of(policy: object, where: str) -> dt.timedelta | None:
    """The maximum age a policy allows (its error level), if it sets one."""
    if isinstance(policy, str):
        return parse_duration(policy, where)
    if isinstance(policy, Mapping):
        limit = policy.get("error") or policy.get("max_age")
        return parse_duration(limit, where) if isinstance(limit, str) else None
    return None


def format_duration(delta: dt.timedelta) -> str:
    """A short human duration: ``3h 5m``, ``2d 1h``, ``45s``."""
    seconds = int(delta.total_seconds())
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if seconds >= size:
            rest = (seconds % size) // sub_size
            return f"{seconds // size}{unit}" + (f" {rest}{sub}" if rest else "")
    return f"{seconds // 60}m" if seconds >= 60 else f"{seconds}s"
