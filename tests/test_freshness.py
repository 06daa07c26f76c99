"""Freshness policies: validation, and evaluation against an injected ``now``."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pytest

from assetflow.errors import DefinitionError
from assetflow.freshness import (
    Freshness,
    evaluate,
    format_duration,
    max_age_of,
    parse_duration,
    validate_policy,
)

WHERE = "assets/daily.py"


def _t(text: str) -> dt.datetime:
    """A naive UTC datetime, as the state stores it: ``"2026-06-10 06:30"``."""
    return dt.datetime.fromisoformat(text)


WARN_ERROR = {"warn": "1h", "error": "6h"}


@pytest.mark.parametrize(
    ("policy", "last", "level", "detail"),
    [
        ("6h", "11:50", "ok", "last materialized 10m ago, freshness is 6h"),
        ("6h", "06:00:01", "ok", "last materialized 5h 59m ago, freshness is 6h"),
        ("6h", "06:00", "ok", "last materialized 6h ago, freshness is 6h"),
        ("6h", "05:59:59", "error", "last materialized 6h ago, freshness is 6h"),
        ({"max_age": "6h"}, "04:58", "error", "last materialized 7h 2m ago, freshness is 6h"),
        ("6h", None, "error", "never materialized, freshness is 6h"),
        (WARN_ERROR, "11:30", "ok", "last materialized 30m ago, freshness is 6h"),
        (WARN_ERROR, "10:00", "warn", "last materialized 2h ago, warn after 1h"),
        (WARN_ERROR, "04:00", "error", "last materialized 8h ago, freshness is 6h"),
        (WARN_ERROR, None, "error", "never materialized, freshness is 6h"),
        ({"warn": "1h"}, "11:30", "ok", "last materialized 30m ago, warn after 1h"),
        ({"warn": "1h"}, "10:00", "warn", "last materialized 2h ago, warn after 1h"),
        ("6h", "12:05", "ok", "last materialized 0s ago, freshness is 6h"),
    ],
    ids=[
        "fresh", "just-under", "exactly-at-limit-is-not-older", "just-over", "max-age-synonym",
        "missing", "under-warn", "between-warn-and-error", "over-error", "missing-with-warn",
        "warn-only-ok", "warn-only-over", "clock-skew-is-not-negative",
    ],
)  # fmt: skip
def test_evaluate_max_age(policy, last, level, detail):
    now = _t("2026-06-10 12:00")
    last_at = None if last is None else _t(f"2026-06-10 {last}")
    assert evaluate(policy, last_at, now, WHERE) == Freshness(level, detail)


def test_evaluate_without_policy_is_none():
    assert evaluate(None, None, _t("2026-06-10 12:00"), WHERE) is None


DAILY = {"cron": "0 6 * * *", "within": "1h"}
NO_GRACE = {"cron": "0 6 * * *"}
LATE_NIGHT = {"cron": "30 23 * * *", "within": "2h"}
QUARTERLY = {"cron": "*/15 * * * *", "within": "5m"}
WEEKDAYS = {"cron": "0 9 * * 1-5", "within": "1h"}


@pytest.mark.parametrize(
    ("policy", "last", "now", "level", "deadline"),
    [
        (DAILY, "2026-06-09 06:20", "2026-06-10 06:30", "ok", "2026-06-09 06:00"),
        (DAILY, "2026-06-09 06:20", "2026-06-10 07:00", "error", "2026-06-10 06:00"),
        (DAILY, "2026-06-09 06:20", "2026-06-10 09:00", "error", "2026-06-10 06:00"),
        (DAILY, "2026-06-10 06:40", "2026-06-10 09:00", "ok", "2026-06-10 06:00"),
        (DAILY, "2026-06-10 06:00", "2026-06-10 09:00", "ok", "2026-06-10 06:00"),
        (DAILY, "2026-06-10 05:59", "2026-06-10 09:00", "error", "2026-06-10 06:00"),
        (DAILY, None, "2026-06-10 09:00", "error", "2026-06-10 06:00"),
        (NO_GRACE, "2026-06-09 06:20", "2026-06-10 06:00", "error", "2026-06-10 06:00"),
        (LATE_NIGHT, "2026-06-10 00:10", "2026-06-11 00:45", "ok", "2026-06-09 23:30"),
        (LATE_NIGHT, "2026-06-10 00:10", "2026-06-11 01:45", "error", "2026-06-10 23:30"),
        (LATE_NIGHT, "2026-06-10 23:50", "2026-06-11 01:45", "ok", "2026-06-10 23:30"),
        (QUARTERLY, "2026-06-10 10:16", "2026-06-10 10:22", "ok", "2026-06-10 10:15"),
        (QUARTERLY, "2026-06-10 10:14", "2026-06-10 10:22", "error", "2026-06-10 10:15"),
        (QUARTERLY, "2026-06-10 10:14", "2026-06-10 10:19", "ok", "2026-06-10 10:00"),
        (WEEKDAYS, "2026-06-12 09:30", "2026-06-13 12:00", "ok", "2026-06-12 09:00"),
        (WEEKDAYS, "2026-06-12 09:30", "2026-06-15 08:00", "ok", "2026-06-12 09:00"),
        (WEEKDAYS, "2026-06-12 09:30", "2026-06-15 10:30", "error", "2026-06-15 09:00"),
        (WEEKDAYS, "2026-06-11 09:30", "2026-06-14 12:00", "error", "2026-06-12 09:00"),
    ],
    ids=[
        "daily-within-grace", "daily-overdue-at-deadline-plus-within", "daily-overdue-later",
        "daily-materialized-after-tick", "daily-materialized-at-tick", "daily-just-before-tick",
        "daily-never-materialized", "no-within-means-no-grace",
        "midnight-within-grace", "midnight-overdue", "midnight-materialized-after-tick",
        "every-15m-after-tick", "every-15m-before-tick", "every-15m-within-grace",
        "weekdays-saturday-judges-friday", "weekdays-monday-before-tick-judges-friday",
        "weekdays-monday-overdue", "weekdays-friday-missed",
    ],
)  # fmt: skip
def test_evaluate_cron(policy, last, now, level, deadline):
    result = evaluate(policy, None if last is None else _t(last), _t(now), WHERE)
    assert result is not None
    assert (result.level, result.deadline) == (level, _t(deadline))


@pytest.mark.parametrize(
    ("cron", "now", "deadline"),
    [
        # 2026-03-29 02:30 does not exist in Paris: like Debian cron, the job
        # runs when the clock resumes, at 03:00 CEST.
        ("30 2 * * *", "2026-03-29 12:00", "2026-03-29 01:00"),
        ("30 2 * * *", "2026-03-29 00:45", "2026-03-28 01:30"),
        ("30 2 * * *", "2026-03-30 12:00", "2026-03-30 00:30"),
        # 2026-10-25 06:00 is CET (UTC+1), the day before it is CEST (UTC+2).
        ("0 6 * * *", "2026-10-24 12:00", "2026-10-24 04:00"),
        ("0 6 * * *", "2026-10-25 05:30", "2026-10-24 04:00"),
        ("0 6 * * *", "2026-10-25 06:00", "2026-10-25 05:00"),
        ("0 6 * * *", "2026-10-26 12:00", "2026-10-26 05:00"),
        # 02:30 happens twice on 2026-10-25; a cron job runs at the first.
        ("30 2 * * *", "2026-10-25 12:00", "2026-10-25 00:30"),
    ],
    ids=[
        "spring-forward-skipped-time-runs-at-0300",
        "before-spring-forward",
        "after-spring-forward",
        "before-fall-back",
        "fall-back-within-grace",
        "fall-back-day",
        "after-fall-back",
        "fall-back-repeated-time-runs-once",
    ],
)
def test_evaluate_cron_deadline_across_dst(cron, now, deadline):
    policy = {"cron": cron, "within": "1h", "timezone": "Europe/Paris"}
    result = evaluate(policy, None, _t(now), WHERE)
    assert result is not None
    assert result.deadline == _t(deadline)


@pytest.mark.parametrize(
    ("policy", "last", "now", "result"),
    [
        (
            {"cron": "0 6 * * *", "within": "1h", "timezone": "Europe/Paris"},
            "2026-10-31 05:12",
            "2026-11-01 07:00",
            Freshness(
                "error",
                "missed the 06:00 Europe/Paris deadline of 2026-11-01 (+1h grace); "
                "last materialized 2026-10-31 05:12 UTC",
                _t("2026-11-01 05:00"),
            ),
        ),
        (
            {"cron": "0 6 * * *"},
            None,
            "2026-11-01 07:00",
            Freshness(
                "error",
                "missed the 06:00 UTC deadline of 2026-11-01; never materialized",
                _t("2026-11-01 06:00"),
            ),
        ),
        (
            {"cron": "0 6 * * *", "within": "30m", "timezone": "Europe/Paris"},
            "2026-11-01 05:12",
            "2026-11-01 07:00",
            Freshness(
                "ok",
                "last materialized 2026-11-01 05:12 UTC, "
                "met the 06:00 Europe/Paris deadline of 2026-11-01 (+30m grace)",
                _t("2026-11-01 05:00"),
            ),
        ),
    ],
    ids=["missed-named-timezone", "never-materialized-utc", "met"],
)
def test_evaluate_cron_detail(policy, last, now, result):
    assert evaluate(policy, None if last is None else _t(last), _t(now), WHERE) == result


def test_evaluate_source_last_change():
    # A source is judged by the same function: `last` is the time of its last
    # observed change instead of its last materialization.
    observed_change = _t("2026-06-09 23:58")
    policy = {"cron": "0 0 * * *", "within": "30m"}
    where = "source 'raw/orders.csv'"
    assert evaluate(policy, observed_change, _t("2026-06-10 00:45"), where) == Freshness(
        "error",
        "missed the 00:00 UTC deadline of 2026-06-10 (+30m grace); "
        "last materialized 2026-06-09 23:58 UTC",
        _t("2026-06-10 00:00"),
    )


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ({"cron": "0 25 * * *"}, "freshness cron '0 25 * * *' is not a cron expression"),
        ({"cron": "0 6 * *"}, "cron '0 6 * *' is not a cron expression (Wrong number of fields)"),
        ({"cron": "0 0 30 2 *"}, "is not a cron expression"),
        ({"cron": 6}, "freshness cron must be a string"),
        ({"cron": "0 6 * * *", "timezone": "Mars/Olympus"}, "'Mars/Olympus' is not a known IANA"),
        ({"cron": "0 6 * * *", "timezone": "../etc/passwd"}, "is not a known IANA timezone"),
        ({"cron": "0 6 * * *", "timezone": 1}, "timezone 1 is not a known IANA timezone"),
        ({"cron": "0 6 * * *", "warn": "1h"}, "takes 'within' and 'timezone', not 'warn'"),
        ({"cron": "0 6 * * *", "error": "1h"}, "takes 'within' and 'timezone', not 'error'"),
        ({"cron": "0 6 * * *", "within": "an hour"}, "'an hour' is not a duration"),
        ({"error": "6h", "within": "1h"}, "'within' only applies to a cron deadline"),
        ({"error": "6h", "timezone": "UTC"}, "'timezone' only applies to a cron deadline"),
        ({"warn": "1h", "eror": "2h"}, "unknown key 'eror'"),
        ({"error": "6h", "max_age": "6h"}, "both 'error' and its synonym 'max_age'"),
        ({"warn": "6h", "error": "1h"}, "warn '6h' is longer than its error limit"),
        ({"timezone": "UTC"}, "sets no limit"),
        ("6 hours", "'6 hours' is not a duration"),
        ("0 6 * * *", "is not a duration"),
        (3600, "freshness must be a duration"),
    ],
    ids=[
        "cron-bad-hour", "cron-four-fields", "cron-never-fires", "cron-not-a-string",
        "unknown-timezone", "malformed-timezone", "timezone-not-a-string", "cron-with-warn",
        "cron-with-error", "bad-within", "within-without-cron", "timezone-without-cron",
        "unknown-key", "error-and-max-age", "warn-longer-than-error", "no-limit",
        "bad-duration", "cron-as-string", "number",
    ],
)  # fmt: skip
def test_validate_policy_rejects(policy, words):
    with pytest.raises(DefinitionError, match=re.escape(words)) as info:
        validate_policy(policy, WHERE)
    assert str(info.value).startswith(f"{WHERE}: ")


@pytest.mark.parametrize(
    "policy",
    [
        "90s",
        "1.5h",
        {"warn": "1h"},
        {"max_age": "2d", "warn": "1d"},
        {"cron": "*/15 * * * *"},
        {"cron": "0 6 * * 1-5", "within": "1h", "timezone": "Europe/Paris"},
        {"cron": "0 6 * * *", "timezone": "UTC"},
    ],
    ids=["seconds", "fraction", "warn-only", "max-age-and-warn", "cron-only", "cron-full", "utc"],
)
def test_validate_policy_accepts(policy):
    assert validate_policy(policy, WHERE) is policy


def test_evaluate_rejects_a_bad_policy():
    with pytest.raises(DefinitionError, match="is not a cron expression"):
        evaluate({"cron": "every day"}, None, _t("2026-06-10 12:00"), WHERE)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("15m", 900), ("1h", 3600), (" 2d ", 172800), ("1w", 604800), ("1.5h", 5400)],
    ids=["s", "m", "h", "d-with-spaces", "w", "fraction"],
)
def test_parse_duration_units(text, seconds):
    assert parse_duration(text, WHERE) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45s"), (300, "5m"), (11100, "3h 5m"), (3600, "1h"), (176400, "2d 1h")],
    ids=["seconds", "minutes", "hours-and-minutes", "whole-hour", "days-and-hours"],
)
def test_format_duration_is_short(seconds, text):
    assert format_duration(dt.timedelta(seconds=seconds)) == text


@pytest.mark.parametrize(
    ("policy", "limit"),
    [("6h", 6 * 3600), ({"warn": "1h", "error": "6h"}, 6 * 3600), ({"max_age": "2h"}, 7200)],
    ids=["duration", "error", "max-age"],
)
def test_max_age_of_is_the_error_level(policy, limit):
    assert max_age_of(policy, WHERE) == dt.timedelta(seconds=limit)


@pytest.mark.parametrize(
    "policy", [{"warn": "1h"}, {"cron": "0 6 * * *"}], ids=["warn-only", "cron"]
)
def test_max_age_of_without_error_level_is_none(policy):
    assert max_age_of(policy, WHERE) is None


def test_import_assetflow_does_not_import_cronsim():
    code = "import sys, assetflow; print('cronsim' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
