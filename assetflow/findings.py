"""Rendering the findings of ``assetflow check`` for people and for CI.

A :class:`Finding` is one thing wrong with one asset (missing, stale, failed,
overdue, a failing data check, a bad definition). This module only decides which
findings fail the build and renders them: as JSON, JUnit XML, GitHub workflow
commands, a GitHub step summary and terminal text. Every function is pure.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assetflow.errors import UsageError

SCHEMA_VERSION = 1
SEVERITIES = ("error", "warn")
KINDS = ("missing", "stale", "failed", "overdue", "check", "definition")

# XML 1.0 cannot carry most control characters, not even escaped, and error messages
# from user code often hold ANSI colour codes: replace them rather than emit a
# document that no CI renderer can parse.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with one asset or source."""

    asset: str
    kind: str  # one of KINDS
    severity: str  # one of SEVERITIES
    message: str  # one line: "overdue: last materialized 7h ago, freshness is 6h"
    file: str | None = None  # project-relative: "assets/marts/kpis.py"
    line: int | None = None
    check: str | None = None  # for kind "check", the check's text: "not_null(customer_id)"
    sample: str | None = None  # for kind "check", JSON of up to 5 violating rows


def _rows(f: Finding, indent: str = "  ") -> list[str]:
    """The violating rows of a check finding as a small text table ([] for others)."""
    from assetflow.checks import sample_table

    count = re.match(r"check \S.*?: (\d+) rows? violates?", f.message)
    return sample_table(f.sample, int(count.group(1)) if count else 0, indent)


@dataclass(frozen=True, slots=True)
class Evaluated:
    """One asset that was evaluated, with the texts of its data checks."""

    asset: str
    file: str | None
    checks: tuple[str, ...] = ()
    ran: int = 0  # how many of its checks (built-in, Python, SQL) were evaluated


def failing(
    findings: Sequence[Finding], *, fail_on: Collection[str] = KINDS, strict: bool = False
) -> list[Finding]:
    """The findings that fail the build, in their order.

    Args:
        findings: Every finding of the check.
        fail_on: The kinds that can fail the build; others are only reported.
        strict: Whether warnings of those kinds fail the build too.

    Raises:
        UsageError: ``fail_on`` names a kind that is not in :data:`KINDS`.

    Example:
        >>> fs = [Finding("a", "stale", "error", "x"), Finding("b", "overdue", "warn", "y")]
        >>> [f.asset for f in failing(fs)], [f.asset for f in failing(fs, strict=True)]
        (['a'], ['a', 'b'])
        >>> failing(fs, fail_on={"overdue"})
        []
    """
    unknown = sorted(set(fail_on) - set(KINDS))
    if unknown:
        raise UsageError(
            f"Unknown finding kind '{unknown[0]}' to fail on: use one of {', '.join(KINDS)}."
        )
    severities = SEVERITIES if strict else ("error",)
    return [f for f in findings if f.kind in fail_on and f.severity in severities]


def to_json(
    findings: Sequence[Finding], evaluated: Sequence[Evaluated], *, failed: Sequence[Finding]
) -> dict[str, Any]:
    """The ``check --format json`` document.

    Args:
        findings: Every finding, in the order to report them.
        evaluated: The assets that were evaluated.
        failed: The findings that fail the build, as :func:`failing` returns them.

    Example:
        >>> doc = to_json([], [Evaluated("a", None)], failed=[])
        >>> doc["ok"], doc["counts"]
        (True, {'error': 0, 'warn': 0, 'assets': 1, 'checks': 0})
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "ok": not failed,
        "counts": {
            **_counts(findings),
            "assets": len(evaluated),
            "checks": sum(e.ran for e in evaluated),
        },
        "findings": [
            {**asdict(f), "sample": json.loads(f.sample) if f.sample else None} for f in findings
        ],
    }


@dataclass(slots=True)
class _Case:
    asset: str
    name: str
    file: str | None
    findings: list[Finding] = field(default_factory=list)


def _cases(findings: Sequence[Finding], evaluated: Sequence[Evaluated]) -> list[_Case]:
    """One case per asset and per (asset, check), plus one for any finding without one."""
    cases: dict[tuple[str, str | None], _Case] = {}
    for e in evaluated:
        cases[(e.asset, None)] = _Case(e.asset, e.asset, e.file)
        for text in e.checks:
            cases[(e.asset, text)] = _Case(e.asset, f"{e.asset}: {text}", e.file)
    for f in findings:
        check = f.check if f.kind == "check" else None
        # A source or an asset that failed to load has findings but was not evaluated;
        # it still gets a test case so that no finding is missing from the report.
        if (f.asset, check) not in cases:
            name = f.asset if check is None else f"{f.asset}: {check}"
            cases[(f.asset, check)] = _Case(f.asset, name, f.file)
        cases[(f.asset, check)].findings.append(f)
    return list(cases.values())


def _testcase(case: _Case) -> ET.Element:
    element = ET.Element("testcase", classname=_xml(f"assetflow.{case.asset}"))
    element.set("name", _xml(case.name))
    if case.file:
        element.set("file", _xml(case.file))
    errors = [f for f in case.findings if f.severity == "error"]
    if errors:
        # One <failure> per test case, holding every error: GitLab and others show
        # only the first, and the suite's `failures` counts test cases, not elements.
        kinds = ",".join(dict.fromkeys(f.kind for f in errors))
        failure = ET.SubElement(element, "failure", type=kinds)
        failure.set("message", _xml("; ".join(f.message for f in errors)))
        failure.text = _xml("\n".join(line for f in errors for line in [f.message, *_rows(f)]))
    warnings = [f for f in case.findings if f.severity != "error"]
    if warnings:
        ET.SubElement(element, "system-out").text = _xml(
            "\n".join(line for f in warnings for line in [f"warning: {f.message}", *_rows(f)])
        )
    return element


def to_junit(
    findings: Sequence[Finding], evaluated: Sequence[Evaluated], *, suite: str = "assetflow"
) -> str:
    """A JUnit XML document: one test case per asset and one per data check.

    A test case fails when it has a finding of error severity; warnings go in its
    ``<system-out>``. Check findings belong to the ``"<asset>: <check>"`` case.

    Args:
        findings: Every finding of the check.
        evaluated: The assets that were evaluated, each with its checks.
        suite: The name of the test suite.

    Returns:
        The document, declared UTF-8: write it in that encoding.
    """
    cases = [_testcase(case) for case in _cases(findings, evaluated)]
    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(c.find("failure") is not None for c in cases)),
        "errors": "0",
        "skipped": "0",
    }
    root = ET.Element("testsuites", {"name": _xml(suite), **counts})
    ET.SubElement(root, "testsuite", {"name": _xml(suite), **counts}).extend(cases)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def github_annotations(findings: Sequence[Finding]) -> list[str]:
    """GitHub Actions workflow commands that annotate each finding's file and line.

    Example:
        >>> github_annotations([Finding("orders", "stale", "warn", "stale: code changed")])
        ['::warning title=assetflow%3A stale::orders: stale: code changed']
    """
    lines = []
    for f in findings:
        # GitHub places a line only within a file, so a line without a file is dropped.
        located = [("file", f.file), ("line", f.line)] if f.file else []
        properties = [*located, ("title", f"assetflow: {f.kind}")]
        props = ",".join(f"{k}={_property(str(v))}" for k, v in properties if v is not None)
        command = "error" if f.severity == "error" else "warning"
        lines.append(f"::{command} {props}::{_data(f'{f.asset}: {f.message}')}")
    return lines


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def step_summary(
    findings: Sequence[Finding], evaluated: Sequence[Evaluated], *, failed: Sequence[Finding]
) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: a verdict and a table of findings.

    Example:
        >>> print(step_summary([], [Evaluated("a", None), Evaluated("b", None)], failed=[]))
        ## assetflow check
        <BLANKLINE>
        All 2 assets are fresh and pass their checks.
        <BLANKLINE>
    """
    lines = ["## assetflow check", ""]
    if not findings:
        lines.append(_all_clear(len(evaluated)))
    else:
        verdict = "Check failed" if failed else "Check passed"
        lines += [f"**{verdict}**: {_tally(findings, evaluated)}.", ""]
        lines += ["| asset | kind | severity | message |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {_cell(f.asset)} | {f.kind} | {f.severity} | {_cell(f.message)} |" for f in findings
        ]
        for f in findings:
            lines += _markdown_rows(f)
    return "\n".join(lines) + "\n"


def _markdown_rows(f: Finding) -> list[str]:
    """A check finding's violating rows as a Markdown table under a heading ([] for others)."""
    try:
        rows = json.loads(f.sample) if f.sample else []
    except ValueError:
        return []
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return []
    columns = list(dict.fromkeys(c for r in rows for c in r))
    lines = ["", f"**{_cell(f.asset)}: {_cell(f.check or '')}** (violating rows)", ""]
    lines.append("| " + " | ".join(_cell(c) for c in columns) + " |")
    lines.append("|" + " --- |" * len(columns))
    for r in rows:
        values = ["NULL" if r.get(c) is None else str(r.get(c)) for c in columns]
        lines.append("| " + " | ".join(_cell(v) for v in values) + " |")
    return lines


def _all_clear(assets: int) -> str:
    if assets == 1:
        return "The 1 asset is fresh and passes its checks."
    return f"All {assets} assets are fresh and pass their checks."


def _cell(text: str) -> str:
    # GitHub renders HTML in Markdown, so "<customer_id>" would vanish unescaped.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


def text_summary(
    findings: Sequence[Finding], evaluated: Sequence[Evaluated], *, failed: Sequence[Finding]
) -> str:
    """The terminal report: one line per finding, then the counts and the verdict.

    Example:
        >>> fs = [Finding("orders", "overdue", "error", "overdue: last materialized 7h ago")]
        >>> print(text_summary(fs, [Evaluated("orders", None)], failed=fs))
        ERROR  overdue  orders: overdue: last materialized 7h ago
        <BLANKLINE>
        1 error, 0 warnings in 1 asset (0 checks evaluated)
        check failed
    """
    width = max((len(f.kind) for f in findings), default=0)
    lines = [
        line
        for f in findings
        for line in [
            f"{f.severity.upper():<5}  {f.kind:<{width}}  {f.asset}: {f.message}",
            *_rows(f, " " * (9 + width)),
        ]
    ]
    if lines:
        lines.append("")
    lines += [_tally(findings, evaluated), "check failed" if failed else "check passed"]
    return "\n".join(lines)


def _counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {s: sum(f.severity == s for f in findings) for s in SEVERITIES}


def _tally(findings: Sequence[Finding], evaluated: Sequence[Evaluated]) -> str:
    counts = _counts(findings)
    errors, warnings = _plural(counts["error"], "error"), _plural(counts["warn"], "warning")
    checks = _plural(sum(e.ran for e in evaluated), "check")
    return f"{errors}, {warnings} in {_plural(len(evaluated), 'asset')} ({checks} evaluated)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
