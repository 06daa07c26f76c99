"""Tests for rendering the findings of ``assetflow check``."""

from __future__ import annotations

import doctest
import json
import xml.etree.ElementTree as ET

import pytest

import assetflow.findings
from assetflow.errors import UsageError
from assetflow.findings import (
    Evaluated,
    Finding,
    failing,
    github_annotations,
    step_summary,
    text_summary,
    to_json,
    to_junit,
)

OVERDUE = Finding(
    "orders",
    "overdue",
    "error",
    "overdue: last materialized 7h ago, freshness is 6h",
    file="assets/orders.py",
    line=12,
)
STALE = Finding("customers", "stale", "warn", "stale: code changed", file="assets/customers.sql")
MISSING = Finding("kpis", "missing", "error", "missing: never materialized")
CHECK = Finding(
    "orders",
    "check",
    "error",
    "check not_null(customer_id) failed: 3 rows",
    file="assets/orders.py",
    check="not_null(customer_id)",
)
WARN_CHECK = Finding(
    "orders", "check", "warn", "check unique(id) failed: 1 row", check="unique(id)"
)
FINDINGS = [OVERDUE, STALE, MISSING, CHECK, WARN_CHECK]
EVALUATED = [
    Evaluated("orders", "assets/orders.py", ("not_null(customer_id)", "unique(id)")),
    Evaluated("customers", "assets/customers.sql", ()),
    Evaluated("kpis", None, ("positive(revenue)",)),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [OVERDUE, MISSING, CHECK]),
        ({"fail_on": {"overdue", "check"}}, [OVERDUE, CHECK]),
        ({"strict": True}, FINDINGS),
        ({"fail_on": {"stale"}, "strict": True}, [STALE]),
        ({"fail_on": ()}, []),
    ],
    ids=["default-errors-of-all-kinds", "fail-on-subset", "strict", "strict-subset", "none"],
)
def test_failing_selects(kwargs: dict[str, object], expected: list[Finding]) -> None:
    assert failing(FINDINGS, **kwargs) == expected  # type: ignore[arg-type]


def test_failing_rejects_unknown_kind() -> None:
    with pytest.raises(UsageError, match="Unknown finding kind 'stal' to fail on: use one of"):
        failing(FINDINGS, fail_on={"stale", "stal"})


def test_to_json_round_trips_with_counts() -> None:
    doc = to_json(FINDINGS, EVALUATED, failed=failing(FINDINGS))

    assert json.loads(json.dumps(doc)) == doc
    assert doc["schema_version"] == 1
    assert doc["ok"] is False
    assert doc["counts"] == {"error": 3, "warn": 2, "assets": 3, "checks": 0}
    assert doc["findings"][0] == {
        "asset": "orders",
        "kind": "overdue",
        "severity": "error",
        "message": "overdue: last materialized 7h ago, freshness is 6h",
        "file": "assets/orders.py",
        "line": 12,
        "check": None,
        "sample": None,
    }
    assert [f["asset"] for f in doc["findings"]] == [f.asset for f in FINDINGS]


def test_to_json_ok_when_nothing_fails() -> None:
    doc = to_json([STALE], EVALUATED, failed=[])

    assert doc["ok"] is True
    assert doc["counts"] == {"error": 0, "warn": 1, "assets": 3, "checks": 0}


def _cases(document: str) -> dict[str, ET.Element]:
    return {c.attrib["name"]: c for c in ET.fromstring(document).iter("testcase")}


def test_to_junit_has_a_case_per_asset_and_check() -> None:
    root = ET.fromstring(to_junit(FINDINGS, EVALUATED, suite="ci"))
    (suite,) = root.findall("testsuite")
    cases = _cases(to_junit(FINDINGS, EVALUATED))

    assert root.tag == "testsuites"
    assert list(cases) == [
        "orders",
        "orders: not_null(customer_id)",
        "orders: unique(id)",
        "customers",
        "kpis",
        "kpis: positive(revenue)",
    ]
    failed = [name for name, case in cases.items() if case.find("failure") is not None]
    assert failed == ["orders", "orders: not_null(customer_id)", "kpis"]
    expected = {"name": "ci", "tests": "6", "failures": "3", "errors": "0", "skipped": "0"}
    assert suite.attrib == expected
    assert root.attrib == expected
    assert len(suite.findall("testcase")) == 6


def test_to_junit_case_attributes_and_failure() -> None:
    cases = _cases(to_junit(FINDINGS, EVALUATED))
    failure = cases["orders"].find("failure")

    assert cases["orders"].attrib == {
        "classname": "assetflow.orders",
        "name": "orders",
        "file": "assets/orders.py",
    }
    assert "file" not in cases["kpis"].attrib
    assert failure is not None
    assert failure.attrib == {"type": "overdue", "message": OVERDUE.message}
    check_failure = cases["orders: not_null(customer_id)"].find("failure")
    assert check_failure is not None
    assert check_failure.attrib["type"] == "check"


def test_to_junit_puts_warnings_in_system_out() -> None:
    cases = _cases(to_junit(FINDINGS, EVALUATED))

    assert cases["customers"].find("failure") is None
    assert cases["customers"].findtext("system-out") == "warning: stale: code changed"
    assert cases["orders: unique(id)"].find("failure") is None
    assert cases["orders: unique(id)"].findtext("system-out") == f"warning: {WARN_CHECK.message}"


def test_to_junit_joins_errors_of_one_asset_into_one_failure() -> None:
    failed = Finding("orders", "failed", "error", "failed: division by zero")
    cases = _cases(to_junit([OVERDUE, failed], EVALUATED))
    failures = cases["orders"].findall("failure")

    assert len(failures) == 1
    assert failures[0].attrib["type"] == "overdue,failed"
    assert failures[0].attrib["message"] == f"{OVERDUE.message}; failed: division by zero"
    assert failures[0].text == f"{OVERDUE.message}\nfailed: division by zero"


def test_to_junit_adds_cases_for_findings_without_an_evaluated_asset() -> None:
    bad = Finding("broken", "definition", "error", "definition: syntax error", file="a/b.sql")
    unknown_check = Finding("kpis", "check", "error", "check gone", check="gone()")
    root = ET.fromstring(to_junit([bad, unknown_check], EVALUATED))
    cases = _cases(to_junit([bad, unknown_check], EVALUATED))

    assert cases["broken"].attrib["file"] == "a/b.sql"
    assert cases["kpis: gone()"].find("failure") is not None
    assert root.attrib["tests"] == "8"
    assert root.attrib["failures"] == "2"


@pytest.mark.parametrize(
    ("message", "parsed"),
    [
        ("a < b && c > \"d\" 'e'", "a < b && c > \"d\" 'e'"),
        ("line one\nline two\r\n\ttab", "line one\nline two\r\n\ttab"),
        ("\x1b[31mred\x1b[0m", "\ufffd[31mred\ufffd[0m"),
    ],
    ids=["markup-and-quotes", "newlines", "control-characters-replaced"],
)
def test_to_junit_special_characters_survive_parsing(message: str, parsed: str) -> None:
    finding = Finding("a<&>", "failed", "error", message)
    cases = _cases(to_junit([finding], [Evaluated("a<&>", 'x"y.py', ("c <1 & 2>",))]))
    failure = cases["a<&>"].find("failure")

    assert failure is not None
    assert failure.attrib["message"] == parsed
    # XML parsers normalize line ends in text (not in escaped attributes).
    assert failure.text == parsed.replace("\r\n", "\n")
    assert cases["a<&>"].attrib["file"] == 'x"y.py'
    assert "a<&>: c <1 & 2>" in cases


def test_to_junit_without_assets_is_an_empty_suite() -> None:
    root = ET.fromstring(to_junit([], []))

    assert root.find("testsuite") is not None
    assert root.attrib["tests"] == "0"
    assert root.attrib["failures"] == "0"


@pytest.mark.parametrize(
    ("finding", "annotation"),
    [
        (
            OVERDUE,
            "::error file=assets/orders.py,line=12,title=assetflow%3A overdue::"
            "orders: overdue: last materialized 7h ago, freshness is 6h",
        ),
        (
            STALE,
            "::warning file=assets/customers.sql,title=assetflow%3A stale::"
            "customers: stale: code changed",
        ),
        (MISSING, "::error title=assetflow%3A missing::kpis: missing: never materialized"),
        (
            Finding("x", "failed", "warn", "boom", line=3),
            "::warning title=assetflow%3A failed::x: boom",
        ),
        (
            Finding("x", "failed", "error", "100% bad\r\nsee: a, b", file="a,b:c%.py", line=1),
            "::error file=a%2Cb%3Ac%25.py,line=1,title=assetflow%3A failed::"
            "x: 100%25 bad%0D%0Asee: a, b",
        ),
    ],
    ids=[
        "error-with-file-and-line",
        "warning-with-file",
        "no-file",
        "line-without-file",
        "escaping",
    ],
)
def test_github_annotations_format(finding: Finding, annotation: str) -> None:
    assert github_annotations([finding]) == [annotation]


def test_github_annotations_one_per_finding_in_order() -> None:
    lines = github_annotations(FINDINGS)

    assert [line.split(" ", 1)[0] for line in lines] == [
        "::error",
        "::warning",
        "::error",
        "::error",
        "::warning",
    ]


def test_step_summary_table() -> None:
    piped = Finding("a|b", "failed", "error", "failed: x | y\nz <id>")
    summary = step_summary([OVERDUE, STALE, piped], EVALUATED, failed=[OVERDUE, piped])

    assert summary.splitlines() == [
        "## assetflow check",
        "",
        "**Check failed**: 2 errors, 1 warning in 3 assets (0 checks evaluated).",
        "",
        "| asset | kind | severity | message |",
        "| --- | --- | --- | --- |",
        f"| orders | overdue | error | {OVERDUE.message} |",
        "| customers | stale | warn | stale: code changed |",
        "| a\\|b | failed | error | failed: x \\| y<br>z &lt;id&gt; |",
    ]


def test_step_summary_passes_with_only_warnings() -> None:
    summary = step_summary([STALE], EVALUATED, failed=[])

    assert (
        "**Check passed**: 0 errors, 1 warning in 3 assets (0 checks evaluated)."
        in summary.splitlines()
    )


@pytest.mark.parametrize(
    ("assets", "sentence"),
    [
        (3, "All 3 assets are fresh and pass their checks."),
        (1, "The 1 asset is fresh and passes its checks."),
    ],
    ids=["plural", "singular"],
)
def test_step_summary_all_clear(assets: int, sentence: str) -> None:
    summary = step_summary([], EVALUATED[:assets], failed=[])

    assert summary == f"## assetflow check\n\n{sentence}\n"


def test_text_summary_lines_and_counts() -> None:
    text = text_summary(FINDINGS, EVALUATED, failed=failing(FINDINGS))

    assert text.splitlines() == [
        f"ERROR  overdue  orders: {OVERDUE.message}",
        "WARN   stale    customers: stale: code changed",
        "ERROR  missing  kpis: missing: never materialized",
        f"ERROR  check    orders: {CHECK.message}",
        f"WARN   check    orders: {WARN_CHECK.message}",
        "",
        "3 errors, 2 warnings in 3 assets (0 checks evaluated)",
        "check failed",
    ]


@pytest.mark.parametrize(
    ("findings", "assets", "failed", "block"),
    [
        (
            [MISSING, STALE],
            1,
            True,
            ["1 error, 1 warning in 1 asset (0 checks evaluated)", "check failed"],
        ),
        (
            [STALE],
            3,
            False,
            ["0 errors, 1 warning in 3 assets (0 checks evaluated)", "check passed"],
        ),
        ([], 0, False, ["0 errors, 0 warnings in 0 assets (0 checks evaluated)", "check passed"]),
    ],
    ids=["singular", "plural-passed", "empty"],
)
def test_text_summary_count_block(
    findings: list[Finding], assets: int, failed: bool, block: list[str]
) -> None:
    text = text_summary(findings, EVALUATED[:assets], failed=findings if failed else [])

    assert text.splitlines()[-2:] == block


def test_text_summary_without_findings_is_only_the_count_block() -> None:
    text = text_summary([], EVALUATED, failed=[])

    assert text == "0 errors, 0 warnings in 3 assets (0 checks evaluated)\ncheck passed"


def test_findings_docstring_examples() -> None:
    result = doctest.testmod(assetflow.findings)

    assert result.attempted > 0
    assert result.failed == 0
