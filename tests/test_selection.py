"""Tests for assetflow.selection, on one fixture graph.

The graph (sources in brackets)::

    [raw_orders] -> stg_orders ----> orders -> revenue -> finance_report
                 \\-> stg_payments -/   |  \\-> refunds -/
    [raw_customers] -> stg_customers -> customers -> marts_x_stats
    island -> island_child
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import pytest

from assetflow.definition import Asset, AssetKind, AssetOptions
from assetflow.errors import SelectionError, UnknownAssetError
from assetflow.graph import AssetGraph, build_graph
from assetflow.selection import Atom, Intersection, Selection, parse_selection, select


def _asset(
    name: str,
    kind: AssetKind,
    file: str,
    group: str,
    upstream: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
) -> Asset:
    options = AssetOptions(group=group, tags=frozenset(tags))
    return Asset(name, kind, file, 1, group, options, upstream=upstream)


G: AssetGraph = build_graph(
    [
        _asset("raw_orders", "source", "sources.py", "default", tags=("external",)),
        _asset("raw_customers", "source", "sources.py", "default"),
        _asset(
            "stg_orders", "python", "assets/staging/stg_orders.py", "staging",
            ("raw_orders",), ("daily",),
        ),
        _asset(
            "stg_customers", "sql", "assets/staging/stg_customers.sql", "staging",
            ("RAW_CUSTOMERS",), ("daily", "pii"),
        ),
        _asset(
            "stg_payments", "sql", "assets/staging/stg_payments.sql", "staging", ("raw_orders",)
        ),
        _asset(
            "orders", "python", "assets/marts/orders.py", "marts",
            ("stg_orders", "stg_payments"), ("daily",),
        ),
        _asset(
            "customers", "sql", "assets/marts/customers.sql", "marts",
            ("stg_customers", "orders"), ("Nightly",),
        ),
        _asset(
            "revenue", "python", "assets/marts/finance/revenue.py", "marts/finance",
            ("orders",), ("finance",),
        ),
        _asset(
            "refunds", "python", "assets/marts/finance/refunds.py", "marts/finance", ("orders",)
        ),
        _asset(
            "finance_report", "sql", "assets/marts/finance/finance_report.sql", "marts/finance",
            ("revenue", "refunds"), ("finance", "report"),
        ),
        _asset("marts_x_stats", "python", "assets/marts_x/stats.py", "marts_x", ("customers",)),
        _asset("island", "python", "assets/misc/island.py", "default", tags=("adhoc",)),
        _asset("island_child", "python", "scratch.py", "default", ("island",)),
    ]
)  # fmt: skip

ALL = list(G.names)
STATUSES = {
    "orders": "stale",
    "customers": "stale",
    "revenue": "missing",
    "island": "overdue",
    "raw_orders": "fresh",
    "not_in_graph": "stale",
}


def _expect(*names: str) -> list[str]:
    """``names`` in the graph's order, after checking each one exists (typos fail loudly)."""
    assert all(n in G for n in names), names
    return G.order(names)


def _counting(mapping: Mapping[str, str]) -> tuple[Callable[[], Mapping[str, str]], list[int]]:
    calls: list[int] = []

    def statuses() -> Mapping[str, str]:
        calls.append(1)
        return mapping

    return statuses, calls


# --- methods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orders", ["orders"]),
        ("ORDERS", ["orders"]),
        ("Stg_Orders", ["stg_orders"]),
        ("name:orders", ["orders"]),
        ("NAME:orders", ["orders"]),
        ("raw_orders", ["raw_orders"]),
    ],
    ids=["exact", "upper", "mixed-case", "name-prefix", "method-case-insensitive", "source"],
)
def test_select_name(text: str, expected: list[str]) -> None:
    assert select(G, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stg_*", ["stg_orders", "stg_customers", "stg_payments"]),
        ("STG_*", ["stg_orders", "stg_customers", "stg_payments"]),
        ("*orders", ["raw_orders", "stg_orders", "orders"]),
        ("re?enue", ["revenue"]),
        ("stg_[op]*", ["stg_orders", "stg_payments"]),
        ("stg_[!op]*", ["stg_customers"]),
        ("name:island*", ["island", "island_child"]),
        ("*", ALL),
    ],
    ids=["star", "case-insensitive", "leading-star", "question", "class", "negated-class",
         "name-prefix", "everything"],
)  # fmt: skip
def test_select_glob(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tag:daily", ["stg_orders", "stg_customers", "orders"]),
        ("tag:pii", ["stg_customers"]),
        ("tag:DAILY", ["stg_orders", "stg_customers", "orders"]),
        ("tag:nightly", ["customers"]),
        ("tag:fin*", ["revenue", "finance_report"]),
        ("tag:external", ["raw_orders"]),
        ("TAG:report", ["finance_report"]),
    ],
    ids=["several", "one", "value-case-insensitive", "declared-mixed-case", "glob", "source",
         "method-case-insensitive"],
)  # fmt: skip
def test_select_tag(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("group:staging", ["stg_orders", "stg_customers", "stg_payments"]),
        ("group:marts", ["orders", "customers", "revenue", "refunds", "finance_report"]),
        ("group:marts/", ["orders", "customers", "revenue", "refunds", "finance_report"]),
        ("group:marts/finance", ["revenue", "refunds", "finance_report"]),
        ("group:marts_x", ["marts_x_stats"]),
        ("group:MARTS/Finance", ["revenue", "refunds", "finance_report"]),
        ("group:default", ["raw_orders", "raw_customers", "island", "island_child"]),
        ("group:mart*", ["orders", "customers", "revenue", "refunds", "finance_report",
                         "marts_x_stats"]),
        ("group:*/finance", ["revenue", "refunds", "finance_report"]),
    ],
    ids=["flat", "includes-nested-not-marts_x", "trailing-slash", "nested", "underscore-sibling",
         "case-insensitive", "default-with-sources", "glob", "glob-nested"],
)  # fmt: skip
def test_select_group(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("path:assets/staging", ["stg_orders", "stg_customers", "stg_payments"]),
        ("path:assets/staging/", ["stg_orders", "stg_customers", "stg_payments"]),
        ("path:./assets/staging", ["stg_orders", "stg_customers", "stg_payments"]),
        ("path:assets/marts", ["orders", "customers", "revenue", "refunds", "finance_report"]),
        ("path:assets/marts/orders.py", ["orders"]),
        ("path:sources.py", ["raw_orders", "raw_customers"]),
        ("path:assets/*/finance", ["revenue", "refunds", "finance_report"]),
        ("path:*.sql", ["stg_customers", "stg_payments", "customers", "finance_report"]),
        ("path:assets/marts/*.py", ["orders", "revenue", "refunds"]),
        ("path:.", ALL),
    ],
    ids=["dir", "dir-trailing-slash", "dir-dot-slash", "dir-not-marts_x", "file",
         "file-of-sources", "glob-dir", "glob-suffix", "glob-in-dir", "project-root"],
)  # fmt: skip
def test_select_path(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


@pytest.mark.parametrize(
    "text",
    ["path:assets/stag", "path:Assets/staging", "path:assets/staging/stg_orders"],
    ids=["partial-folder-name", "case-sensitive", "file-without-suffix"],
)
def test_select_path_matches_whole_components(text: str) -> None:
    assert select(G, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind:sql", ["stg_customers", "stg_payments", "customers", "finance_report"]),
        ("kind:source", ["raw_orders", "raw_customers"]),
        ("KIND:Python", ["stg_orders", "orders", "revenue", "refunds", "marts_x_stats", "island",
                         "island_child"]),
    ],
    ids=["sql", "source", "case-insensitive"],
)  # fmt: skip
def test_select_kind(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status:stale", ["orders", "customers"]),
        ("status:missing", ["revenue"]),
        ("STATUS:Overdue", ["island"]),
        ("status:fresh", ["raw_orders"]),
        ("status:stale+1", ["orders", "customers", "revenue", "refunds", "marts_x_stats"]),
    ],
    ids=["stale-ignores-unknown-names", "missing", "case-insensitive", "source", "with-operator"],
)
def test_select_status(text: str, expected: list[str]) -> None:
    statuses, calls = _counting(STATUSES)
    assert select(G, text, statuses=statuses) == _expect(*expected)
    assert len(calls) == 1


def test_select_status_fetched_once_for_several_selectors() -> None:
    statuses, calls = _counting(STATUSES)
    result = select(G, ["status:stale", "status:missing"], "status:overdue", statuses=statuses)
    assert result == _expect("orders", "customers", "revenue")
    assert len(calls) == 1


def test_select_status_not_fetched_without_status_selector() -> None:
    statuses, calls = _counting(STATUSES)
    assert select(G, "tag:pii orders+1", "refunds", statuses=statuses) == _expect(
        "stg_customers", "orders", "customers", "revenue"
    )
    assert select(G, statuses=statuses) == ALL
    assert calls == []


def test_select_status_used_in_exclude() -> None:
    statuses, calls = _counting(STATUSES)
    assert select(G, "group:marts", "status:stale", statuses=statuses) == _expect(
        "revenue", "refunds", "finance_report"
    )
    assert len(calls) == 1


@pytest.mark.parametrize(
    "text",
    ["nomatch_*", "tag:nope", "group:nope", "group:mart", "path:nowhere", "status:failed",
     "+tag:nope+", "@group:nope"],
    ids=["glob", "tag", "group", "group-prefix-is-not-a-folder", "path", "status",
         "operators-on-nothing", "at-on-nothing"],
)  # fmt: skip
def test_select_pattern_matching_nothing_is_empty(text: str) -> None:
    statuses, _ = _counting(STATUSES)
    assert select(G, text, statuses=statuses) == []


# --- graph operators ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+orders", ["orders", "stg_orders", "stg_payments", "raw_orders"]),
        ("orders+", ["orders", "customers", "revenue", "refunds", "finance_report",
                     "marts_x_stats"]),
        ("1+orders", ["orders", "stg_orders", "stg_payments"]),
        ("2+orders", ["orders", "stg_orders", "stg_payments", "raw_orders"]),
        ("orders+1", ["orders", "customers", "revenue", "refunds"]),
        ("orders+2", ["orders", "customers", "revenue", "refunds", "finance_report",
                      "marts_x_stats"]),
        ("1+orders+1", ["stg_orders", "stg_payments", "orders", "customers", "revenue",
                        "refunds"]),
        ("2+customers+1", ["customers", "stg_customers", "orders", "raw_customers",
                           "stg_orders", "stg_payments", "marts_x_stats"]),
        ("+orders+", ["raw_orders", "stg_orders", "stg_payments", "orders", "customers",
                      "revenue", "refunds", "finance_report", "marts_x_stats"]),
        ("0+orders+0", ["orders"]),
        ("1+finance_report", ["finance_report", "revenue", "refunds"]),
        ("2+finance_report", ["finance_report", "revenue", "refunds", "orders"]),
        ("+island_child", ["island", "island_child"]),
        ("raw_orders+1", ["raw_orders", "stg_orders", "stg_payments"]),
    ],
    ids=["ancestors", "descendants", "ancestors-depth-1", "ancestors-depth-2",
         "descendants-depth-1", "descendants-depth-2", "both-depth-1", "both-depth-2-and-1",
         "both-unbounded", "depth-0", "diamond-depth-1", "diamond-depth-2-joins", "island",
         "source-descendants"],
)  # fmt: skip
def test_select_graph_operator(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@stg_payments", ["raw_orders", "raw_customers", "stg_orders", "stg_customers",
                           "stg_payments", "orders", "customers", "revenue", "refunds",
                           "finance_report", "marts_x_stats"]),
        ("@revenue", ["raw_orders", "stg_orders", "stg_payments", "orders", "revenue",
                      "refunds", "finance_report"]),
        ("@island", ["island", "island_child"]),
        ("@finance_report", ["raw_orders", "stg_orders", "stg_payments", "orders", "revenue",
                             "refunds", "finance_report"]),
    ],
    ids=["descendants-and-their-ancestors", "sibling-via-shared-child", "island", "leaf"],
)  # fmt: skip
def test_select_at_operator(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+tag:finance", ["raw_orders", "stg_orders", "stg_payments", "orders", "revenue",
                          "refunds", "finance_report"]),
        ("group:staging+1", ["stg_orders", "stg_customers", "stg_payments", "orders",
                             "customers"]),
        ("1+path:assets/marts/finance", ["orders", "revenue", "refunds", "finance_report"]),
        ("kind:source+1", ["raw_orders", "raw_customers", "stg_orders", "stg_customers",
                           "stg_payments"]),
        ("island*+", ["island", "island_child"]),
        ("@tag:adhoc", ["island", "island_child"]),
    ],
    ids=["ancestors-of-tag", "descendants-of-group", "depth-on-path", "sources", "glob",
         "at-on-tag"],
)  # fmt: skip
def test_select_graph_operator_on_method(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


# --- set operations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("revenue refunds", ["revenue", "refunds"]),
        ("revenue\trefunds\n island", ["revenue", "refunds", "island"]),
        ("tag:pii tag:finance", ["stg_customers", "revenue", "finance_report"]),
        ("orders +orders", ["orders", "stg_orders", "stg_payments", "raw_orders"]),
        ("tag:daily,group:staging", ["stg_orders", "stg_customers"]),
        ("tag:daily,kind:sql,group:staging", ["stg_customers"]),
        ("+orders,kind:source", ["raw_orders"]),
        ("group:marts,tag:finance+", ["revenue", "finance_report"]),
        ("tag:pii,tag:finance", []),
        ("group:staging,tag:pii island", ["stg_customers", "island"]),
        ("island group:staging,tag:pii", ["stg_customers", "island"]),
    ],
    ids=["union", "any-whitespace", "union-of-methods", "union-overlap", "intersection",
         "three-way-intersection", "intersection-with-operator",
         "operator-binds-to-its-atom", "empty-intersection", "comma-binds-tighter",
         "comma-binds-tighter-reversed"],
)  # fmt: skip
def test_select_set_operations(text: str, expected: list[str]) -> None:
    assert select(G, text) == _expect(*expected)


def test_select_several_args_are_a_union() -> None:
    joined = select(G, "tag:finance island stg_orders,tag:daily")
    assert select(G, ["tag:finance", "island", "stg_orders,tag:daily"]) == joined
    assert select(G, ("tag:finance island", "stg_orders,tag:daily")) == joined
    assert joined == _expect("revenue", "finance_report", "island", "stg_orders")


@pytest.mark.parametrize(
    ("chosen", "excluded", "expected"),
    [
        ("orders+", "group:marts/finance", ["orders", "customers", "marts_x_stats"]),
        ("+orders", "kind:source", ["orders", "stg_orders", "stg_payments"]),
        (None, "group:marts group:marts_x",
         ["raw_orders", "raw_customers", "stg_orders", "stg_customers", "stg_payments",
          "island", "island_child"]),
        ("orders+", ["revenue+", "customers"], ["orders", "refunds", "marts_x_stats"]),
        ("tag:daily", "tag:daily,kind:sql", ["stg_orders", "orders"]),
        ("revenue", "revenue", []),
        ("revenue", "", ["revenue"]),
        ("revenue", [], ["revenue"]),
    ],
    ids=["descendants-minus-group", "ancestors-minus-sources", "exclude-from-everything",
         "several-excludes-are-a-union", "exclude-intersection", "everything-excluded",
         "empty-exclude-string", "empty-exclude-list"],
)  # fmt: skip
def test_select_exclude(chosen: str | None, excluded: str | list[str], expected: list[str]) -> None:
    assert select(G, chosen, excluded) == _expect(*expected)


def test_select_exclude_keyword() -> None:
    assert select(G, "island+", exclude="island") == ["island_child"]


@pytest.mark.parametrize(
    "chosen",
    [None, "", "   ", [], ["", " "]],
    ids=["none", "empty-string", "blank-string", "empty-list", "blank-list"],
)
def test_select_empty_is_everything(chosen: str | list[str] | None) -> None:
    assert select(G, chosen) == ALL
    assert len(ALL) == 13


def test_select_returns_topological_order() -> None:
    assert select(G, "finance_report island_child stg_payments raw_orders +customers") == [
        "raw_customers",
        "raw_orders",
        "island_child",
        "stg_customers",
        "stg_orders",
        "stg_payments",
        "orders",
        "customers",
        "finance_report",
    ]


def test_select_returns_each_name_once() -> None:
    result = select(G, "orders ORDERS name:orders +orders orders,kind:python")
    assert result == _expect("raw_orders", "stg_orders", "stg_payments", "orders")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a,", ["'a,'", "empty part around a comma", "without spaces"]),
        (",a", ["',a'", "empty part around a comma"]),
        ("a,,b", ["'a,,b'", "empty part around a comma"]),
        ("orders , revenue", ["','", "empty part around a comma"]),
        ("orders, revenue", ["'orders,'", "empty part around a comma"]),
        ("tags:daily", ["'tags:daily'", "unknown method 'tags'", "did you mean 'tag'?"]),
        ("grop:marts", ["unknown method 'grop'", "did you mean 'group'?"]),
        ("foo:x", ["unknown method 'foo'", "use one of group, kind, name, path, status, tag."]),
        (":orders", ["unknown method ''", "use one of group"]),
        ("status:stail", ["'status:stail'", "unknown status 'stail'",
                          "use one of missing, stale, overdue, failed, fresh."]),
        ("kind:view", ["unknown kind 'view'", "use one of python, sql, source."]),
        ("tag:", ["'tag:'", "has no value after 'tag:'", "'tag:VALUE'"]),
        ("+path:", ["has no value after 'path:'"]),
        ("++a", ["'++a'", "malformed graph operator", "'2+name+1'"]),
        ("a++", ["'a++'", "malformed graph operator"]),
        ("1+", ["'1+'", "malformed graph operator"]),
        ("+", ["'+'", "malformed graph operator"]),
        ("@", ["'@'", "malformed graph operator"]),
        ("a+b", ["'a+b'", "malformed graph operator"]),
        ("1+a+1+", ["malformed graph operator"]),
        ("a@", ["'a@'", "malformed graph operator"]),
        ("@@a", ["'@@a'", "malformed graph operator"]),
        ("@+orders", ["'@+orders'", "combines '@' with '+'", "'@name'"]),
        ("@2+orders", ["combines '@' with '+'"]),
        ("@orders+", ["combines '@' with '+'"]),
        ("orders tags:x", ["unknown method 'tags'"]),
    ],
    ids=["trailing-comma", "leading-comma", "double-comma", "spaced-comma",
         "space-after-comma", "method-typo", "method-typo-group", "unknown-method",
         "empty-method", "unknown-status", "unknown-kind", "empty-value",
         "empty-value-with-operator", "double-leading-plus", "double-trailing-plus",
         "depth-without-name", "lone-plus", "lone-at", "plus-inside", "plus-after-depth",
         "trailing-at", "double-at", "at-with-plus", "at-with-depth", "at-with-trailing-plus",
         "second-term"],
)  # fmt: skip
def test_parse_selection_error(text: str, words: list[str]) -> None:
    with pytest.raises(SelectionError) as info:
        parse_selection(text)
    message = str(info.value)
    assert message.startswith("selection: ")
    assert message.endswith((".", "?"))
    for word in words:
        assert word in message


def test_select_raises_parse_errors_from_select_and_exclude() -> None:
    with pytest.raises(SelectionError, match="did you mean 'tag'"):
        select(G, ["orders", "tags:x"])
    with pytest.raises(SelectionError, match="malformed graph operator"):
        select(G, "orders", ["revenue", "++refunds"])


@pytest.mark.parametrize(
    ("chosen", "excluded"),
    [("status:stale", None), ("orders", "status:fresh"), ("+status:failed,tag:x", None)],
    ids=["in-select", "in-exclude", "inside-intersection"],
)
def test_select_status_without_statuses(chosen: str, excluded: str | None) -> None:
    with pytest.raises(SelectionError) as info:
        select(G, chosen, excluded)
    assert str(info.value).startswith("status: selectors need the project state; ")


@pytest.mark.parametrize(
    ("chosen", "excluded", "message"),
    [
        ("ordrs", None,
         "selection: 'ordrs' is not an asset or source; did you mean 'orders'?"),
        ("Revenu+", None,
         "selection: 'Revenu' is not an asset or source; did you mean 'revenue'?"),
        ("tag:daily,stg_order", None,
         "selection: 'stg_order' is not an asset or source; did you mean 'stg_orders'?"),
        ("orders", "refundz",
         "selection: 'refundz' is not an asset or source; did you mean 'refunds'?"),
        ("zzzz", None,
         "selection: 'zzzz' is not an asset or source; fix the name, or use a pattern such "
         "as 'zzzz*' or 'tag:zzzz'."),
        ("assets/staging", None,
         "selection: 'assets/staging' is not an asset or source; to select by file, write "
         "'path:assets/staging'."),
        ("tag:nope,ordrs", None,
         "selection: 'ordrs' is not an asset or source; did you mean 'orders'?"),
    ],
    ids=["typo", "typo-with-operator", "inside-intersection", "in-exclude", "no-suggestion",
         "looks-like-a-path", "after-empty-atom"],
)  # fmt: skip
def test_select_unknown_name(chosen: str, excluded: str | None, message: str) -> None:
    with pytest.raises(UnknownAssetError) as info:
        select(G, chosen, excluded)
    assert str(info.value) == message
    assert not isinstance(info.value, SelectionError)


# --- the parsed form ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orders", Atom("name", "orders")),
        ("TAG:Daily", Atom("tag", "Daily")),
        ("status:STALE", Atom("status", "stale")),
        ("+orders", Atom("name", "orders", parents=True)),
        ("orders+", Atom("name", "orders", children=True)),
        ("2+orders+1", Atom("name", "orders", True, 2, True, 1)),
        ("@group:marts", Atom("group", "marts", childrens_parents=True)),
        ("path:a/b:c", Atom("path", "a/b:c")),
    ],
    ids=["bare-name", "method-lowered-value-kept", "status-lowered", "parents", "children",
         "depths", "at", "first-colon-splits"],
)  # fmt: skip
def test_parse_selection_atom(text: str, expected: Atom) -> None:
    assert parse_selection(text) == Selection((Intersection((expected,)),))


def test_parse_selection_structure() -> None:
    parsed = parse_selection("tag:a,kind:sql  orders")
    assert parsed == Selection(
        (
            Intersection((Atom("tag", "a"), Atom("kind", "sql"))),
            Intersection((Atom("name", "orders"),)),
        )
    )
    assert parse_selection("") == parse_selection(" \n ") == Selection(())


@pytest.mark.parametrize(
    "text",
    ["orders", "2+tag:daily+1 @group:marts", "+a,b+ c", "0+x+0", "path:assets/*.sql"],
    ids=["name", "operators", "intersection", "zero-depths", "glob-path"],
)
def test_parse_selection_str_round_trips(text: str) -> None:
    assert str(parse_selection(text)) == text


def test_parse_selection_is_frozen() -> None:
    atom = parse_selection("orders").terms[0].atoms[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        atom.value = "revenue"  # type: ignore[misc]
    assert not hasattr(atom, "__dict__")
