"""Tests of assetflow.sql: header options, statement checks, dependencies, normalization.

Dependency cases are fixture files, one per case: ``tests/fixtures/sql_deps/<case>.sql``.
Each starts with ``-- expect-deps: a, b`` (nothing after the colon when the query
reads no table) and may add ``-- expect-external: path, ...`` for the files it reads.
The hyphen keeps ``expect-deps`` from matching a header option key, so the header
parser treats these lines as plain comments and the files go to ``parse_sql_asset``
unchanged (``test_parse_sql_asset_deps`` also checks that they set no option).
"""

from __future__ import annotations

import dataclasses
import doctest
import re
import subprocess
import sys
from pathlib import Path

import pytest

import assetflow.sql
from assetflow.errors import DefinitionError, SqlSyntaxError
from assetflow.sql import parse_sql_asset, split_top_level

ROOT = Path(__file__).resolve().parent.parent
DEP_CASES = sorted((Path(__file__).parent / "fixtures" / "sql_deps").glob("*.sql"))


def _expected(text: str, key: str) -> list[str]:
    match = re.search(rf"^-- expect-{key}:(.*)$", text, re.MULTILINE)
    return [] if match is None else [item.strip() for item in match[1].split(",") if item.strip()]


def test_parse_sql_asset_deps_has_enough_fixture_cases() -> None:
    assert len(DEP_CASES) >= 45


@pytest.mark.parametrize("case", DEP_CASES, ids=[case.stem for case in DEP_CASES])
def test_parse_sql_asset_deps(case: Path) -> None:
    text = case.read_text(encoding="utf-8")
    assert text.startswith("-- expect-deps:"), f"{case.name} must start with -- expect-deps:"

    definition = parse_sql_asset(text, path=f"assets/{case.name}")

    assert definition.deps == frozenset(_expected(text, "deps"))
    assert definition.external_reads == tuple(_expected(text, "external"))
    assert definition.options == {}


REFUSED = [
    ("-- description: d\n\nCREATE TABLE t AS SELECT 1", 3, "CREATE TABLE is not allowed"),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", 1, "CREATE VIEW is not allowed"),
    ("CREATE MACRO m(a) AS a + 1", 1, "CREATE MACRO is not allowed"),
    ("DROP TABLE t", 1, "DROP TABLE is not allowed"),
    ("ALTER TABLE t RENAME TO u", 1, "ALTER TABLE is not allowed"),
    ("INSERT INTO t VALUES (1)", 1, "INSERT is not allowed"),
    (
        "-- a comment\nWITH a AS (SELECT 1)\nINSERT INTO t SELECT * FROM a",
        2,
        "INSERT is not allowed",
    ),
    ("UPDATE t SET a = 1", 1, "UPDATE is not allowed"),
    ("DELETE FROM t WHERE a = 1", 1, "DELETE is not allowed"),
    ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", 1, "MERGE is not allowed"),
    ("PRAGMA version", 1, "PRAGMA is not allowed"),
    ("ATTACH 'other.db' AS other", 1, "ATTACH is not allowed"),
    ("DETACH other", 1, "DETACH is not allowed"),
    ("COPY orders TO 'orders.csv'", 1, "COPY is not allowed"),
    ("SET threads = 4", 1, "SET is not allowed"),
    ("INSTALL httpfs", 1, "INSTALL is not allowed"),
    ("\n\nLOAD httpfs;", 3, "LOAD is not allowed"),
    ("CALL my_procedure()", 1, "CALL is not allowed"),
    ("DESCRIBE orders", 1, "DESCRIBE is not allowed"),
    ("CHECKPOINT", 1, "CHECKPOINT is not allowed"),
    ("1 + 2", 1, "a bare expression is not allowed"),
]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    REFUSED,
    ids=[
        "create-table-after-header",
        "create-view",
        "create-macro",
        "drop",
        "alter",
        "insert",
        "with-insert",
        "update",
        "delete",
        "merge",
        "pragma",
        "attach",
        "detach",
        "copy",
        "set",
        "install",
        "load",
        "call",
        "describe",
        "checkpoint",
        "bare-expression",
    ],
)
def test_parse_sql_asset_refuses_statement(text: str, line: int, words: str) -> None:
    with pytest.raises(SqlSyntaxError) as error:
        parse_sql_asset(text, path="assets/bad.sql")

    message = str(error.value)
    assert message.startswith(f"assets/bad.sql:{line}: {words} in a SQL asset; ")
    assert message.endswith("set operation or VALUES query.")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("SELECT 1;\n\nSELECT 2;", 3, "a second statement starts here"),
        ("-- tags: a\nSELECT 1; SELECT 2", 2, "a second statement starts here"),
        ("SELECT 1;\nDROP TABLE t", 2, "a second statement starts here"),
        ("", 1, "the file holds no query"),
        ("-- description: d\n-- a plain comment\n\n", 1, "the file holds no query"),
        ("-- description: d\n;\n", 2, "the file holds no query"),
        ("/* only a comment */\n", 1, "the file holds no query"),
        (
            "-- description: d\n-- tags: a\n\n-- plain\nSELECT id,\n  amount\nFROM orders o p q\n",
            7,
            "syntax error: Invalid expression / Unexpected token; fix the SQL.",
        ),
        ("SELECT\n  (1 +\n", 2, "syntax error: "),
        ("SELECT * FROM", 1, "syntax error: Expected table name but got the end of the query"),
        ("-- tags: a\nSELECT 1,\n  'open\nFROM t", 3, "syntax error: a ' is opened here"),
        ("-- tags: a\nSELECT 1 /* never closed\n", 2, "syntax error: the text cannot be split"),
    ],
    ids=[
        "two-statements",
        "two-statements-on-one-line",
        "query-then-ddl",
        "empty-file",
        "header-only",
        "semicolon-only",
        "block-comment-only",
        "syntax-error-line-counts-header",
        "unclosed-parenthesis",
        "missing-table",
        "unclosed-string",
        "unclosed-block-comment",
    ],
)
def test_parse_sql_asset_refuses_file(text: str, line: int, words: str) -> None:
    with pytest.raises(SqlSyntaxError) as error:
        parse_sql_asset(text, path="assets/bad.sql")

    message = str(error.value)
    assert message.startswith(f"assets/bad.sql:{line}: ")
    assert words in message
    assert message.endswith(".") and "; " in message


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM orders;",
        "SELECT * FROM orders; -- trailing comment\n/* and a block */\n",
        "SELECT * FROM orders;;\n",
        "(SELECT * FROM orders) UNION ALL (SELECT * FROM orders)",
        "VALUES (1, 2)",
        "FROM orders",
    ],
    ids=[
        "semicolon",
        "trailing-comments",
        "two-semicolons",
        "parenthesized-union",
        "values",
        "from",
    ],
)
def test_parse_sql_asset_accepts_query(text: str) -> None:
    assert parse_sql_asset(text, path="assets/ok.sql").body_line == 1


def test_parse_sql_asset_header_every_key() -> None:
    text = (
        "-- Revenue per day.\n"
        "-- description: Revenue per day: net of refunds\n"
        "-- tags: finance, daily ,\n"
        "--group:marts\n"
        "-- checks: not_null(day), accepted_values(status, ['a', 'b']), row_count(> 0)\n"
        '-- freshness: {"max_age": "1h", "warn": [1, 2]}\n'
        "-- retries: 3\n"
        "-- retry_delay: 1.5\n"
        "-- backoff: 2\n"
        "-- timeout: 60\n"
        "-- version: v2\n"
        "-- deps: seed_calendar, holidays\n"
        "   --   io  :  parquet  \n"
        "\n"
        "SELECT day, sum(amount) AS revenue\n"
        "FROM orders\n"
        "GROUP BY day\n"
    )

    definition = parse_sql_asset(text, path="assets/revenue.sql")

    assert definition.options == {
        "description": "Revenue per day: net of refunds",
        "tags": ["finance", "daily"],
        "group": "marts",
        "checks": ["not_null(day)", "accepted_values(status, ['a', 'b'])", "row_count(> 0)"],
        "freshness": {"max_age": "1h", "warn": [1, 2]},
        "retries": 3,
        "retry_delay": 1.5,
        "backoff": 2.0,
        "timeout": 60.0,
        "version": "v2",
        "deps": ["seed_calendar", "holidays"],
        "io": "parquet",
    }
    assert [type(definition.options[k]) for k in ("retries", "backoff", "timeout")] == [
        int,
        float,
        float,
    ]
    assert definition.options_lines == {
        "description": 2,
        "tags": 3,
        "group": 4,
        "checks": 5,
        "freshness": 6,
        "retries": 7,
        "retry_delay": 8,
        "backoff": 9,
        "timeout": 10,
        "version": 11,
        "deps": 12,
        "io": 13,
    }
    assert definition.body_line == 15
    assert definition.query == "SELECT day, sum(amount) AS revenue\nFROM orders\nGROUP BY day\n"
    assert definition.deps == frozenset({"orders"})


def test_parse_sql_asset_header_freshness_duration_is_a_string() -> None:
    definition = parse_sql_asset("-- freshness: 1h\nSELECT 1", path="assets/x.sql")

    assert definition.options == {"freshness": "1h"}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("-- tags: a\n-- freshnes: 1h\nSELECT 1", 2, "unknown header option 'freshnes'"),
        ("-- Description: d\nSELECT 1", 1, "did you mean 'description'?"),
        ("-- tag: a\nSELECT 1", 1, "known options are: backoff, checks, deps, description"),
        ("-- description: a\n\n-- description: b\nSELECT 1", 3, "'description' is given twice"),
        ("-- tags: a\n-- tags: b\nSELECT 1", 2, "(first on line 1); keep one."),
        ("-- retries: three\nSELECT 1", 1, "'retries' must be a whole number, not 'three'"),
        ("-- retries: 1.5\nSELECT 1", 1, "'retries' must be a whole number"),
        ("-- timeout: soon\nSELECT 1", 1, "'timeout' must be a number, not 'soon'"),
        ("-- backoff: nan\nSELECT 1", 1, "'backoff' must be a number"),
        ("-- retry_delay: 1s\nSELECT 1", 1, "'retry_delay' must be a number"),
        ("-- x\n-- freshness: {max_age: 1h}\nSELECT 1", 2, "'freshness' is not a valid JSON"),
        ("-- tags:   \nSELECT 1", 1, "header option 'tags' has no value"),
        ("-- deps: , ,\nSELECT 1", 1, "header option 'deps' has no items"),
    ],
    ids=[
        "unknown-key-did-you-mean",
        "unknown-key-wrong-case",
        "unknown-key-no-close-match",
        "duplicate-description",
        "duplicate-tags",
        "bad-int",
        "float-for-int",
        "bad-float",
        "nan-float",
        "float-with-unit",
        "bad-json",
        "empty-value",
        "empty-list",
    ],
)
def test_parse_sql_asset_header_error(text: str, line: int, words: str) -> None:
    with pytest.raises(DefinitionError) as error:
        parse_sql_asset(text, path="assets/x.sql")

    message = str(error.value)
    assert type(error.value) is DefinitionError
    assert message.startswith(f"assets/x.sql:{line}: ")
    assert words in message
    assert message.endswith((".", "?")) and "; " in message


def test_parse_sql_asset_header_did_you_mean_is_the_last_words() -> None:
    with pytest.raises(DefinitionError, match=r"; did you mean 'freshness'\?$"):
        parse_sql_asset("-- freshnes: 1h\nSELECT 1", path="assets/x.sql")


def test_parse_sql_asset_header_plain_comments_are_not_options() -> None:
    text = (
        "-- Orders, deduplicated, one row per order.\n"
        "-- see https://example.com/orders\n"
        "-- https://example.com/a-url-alone\n"
        "--- divider ---\n"
        "-- expect-this: not a key because of the hyphen\n"
        "-- Note: prose with a colon, not close to any option\n"
        "-- TODO: the same\n"
        "--\n"
        "SELECT * FROM orders\n"
    )

    definition = parse_sql_asset(text, path="assets/x.sql")

    assert definition.options == {}
    assert definition.options_lines == {}
    assert definition.body_line == 9


def test_parse_sql_asset_comment_after_query_start_is_not_header() -> None:
    text = "-- tags: a\nSELECT 1 AS x\n-- group: later\n-- freshnes: not checked\n"

    definition = parse_sql_asset(text, path="assets/x.sql")

    assert definition.options == {"tags": ["a"]}
    assert definition.body_line == 2
    assert definition.query == "SELECT 1 AS x\n-- group: later\n-- freshnes: not checked\n"


def test_parse_sql_asset_header_ends_at_block_comment() -> None:
    text = "-- tags: a\n/* -- group: g */\nSELECT 1"

    definition = parse_sql_asset(text, path="assets/x.sql")

    assert definition.options == {"tags": ["a"]}
    assert definition.body_line == 2


def test_parse_sql_asset_crlf_line_endings() -> None:
    definition = parse_sql_asset("-- tags: a\r\n\r\nSELECT 1\r\n", path="assets/x.sql")

    assert definition.options == {"tags": ["a"]}
    assert definition.body_line == 3


def test_sql_definition_is_frozen() -> None:
    definition = parse_sql_asset("SELECT 1", path="assets/x.sql")

    with pytest.raises(dataclasses.FrozenInstanceError):
        definition.body_line = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("a, b ,c", ["a", "b", "c"]),
        ("f(a, b), g(c)", ["f(a, b)", "g(c)"]),
        ("x([1, 2], {'k': (3, 4)}), y", ["x([1, 2], {'k': (3, 4)})", "y"]),
        ("in(s, ['a,b', \"c,d\"]), z", ["in(s, ['a,b', \"c,d\"])", "z"]),
        ("eq(s, 'it''s, ok'), z", ["eq(s, 'it''s, ok')", "z"]),
        (" , a,, ,b, ", ["a", "b"]),
        ("a), b", ["a)", "b"]),
        ("", []),
    ],
    ids=[
        "plain",
        "parentheses",
        "nested-brackets",
        "quotes",
        "doubled-quote",
        "empties",
        "unbalanced-closer",
        "empty",
    ],
)
def test_split_top_level(value: str, parts: list[str]) -> None:
    assert split_top_level(value) == parts


def test_sql_import_does_not_import_sqlglot() -> None:
    code = "import assetflow.sql, sys; assert 'sqlglot' not in sys.modules, 'sqlglot imported'"

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr


def test_sql_docstring_examples() -> None:
    result = doctest.testmod(assetflow.sql)

    assert result.attempted > 0
    assert result.failed == 0
