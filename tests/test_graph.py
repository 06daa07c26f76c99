"""The lineage graph: resolution, validation messages, order and closure queries."""

from __future__ import annotations

import pytest

from assetflow.definition import Asset, AssetOptions, Input
from assetflow.errors import CycleError, DuplicateAssetError, UnknownAssetError
from assetflow.graph import build_graph


def _asset(name: str, *upstream: str, kind: str = "python", deps: tuple[str, ...] = ()) -> Asset:
    inputs = tuple(Input(u, u) for u in upstream) if kind == "python" else ()
    return Asset(
        name,
        kind,  # type: ignore[arg-type]
        f"assets/{name}.py",
        3,
        "default",
        AssetOptions(deps=deps),
        upstream=(*upstream, *deps),
        inputs=inputs,
    )


@pytest.fixture
def diamond():
    #   a -> b -> d ; a -> c -> d ; d -> e ; f alone
    return build_graph(
        [
            _asset("e", "d"),
            _asset("d", "b", "c"),
            _asset("c", "a"),
            _asset("b", "a"),
            _asset("a"),
            _asset("f"),
        ]
    )


def test_graph_topological_order_is_deterministic(diamond):
    assert diamond.names == ("a", "f", "b", "c", "d", "e")
    assert diamond.order(["e", "a", "c"]) == ["a", "c", "e"]


def test_graph_closures_and_depth(diamond):
    assert diamond.ancestors("e") == {"a", "b", "c", "d"}
    assert diamond.ancestors("e", depth=1) == {"d"}
    assert diamond.ancestors("e", depth=2) == {"b", "c", "d"}
    assert diamond.descendants("a") == {"b", "c", "d", "e"}
    assert diamond.descendants("a", depth=1) == {"b", "c"}
    assert diamond.downstream("a") == ("b", "c")
    assert diamond.upstream("d") == ("b", "c")
    assert diamond.ancestors("f") == set() and diamond.descendants("f") == set()


def test_graph_subgraph_drops_edges_leaving_it(diamond):
    sub = diamond.subgraph(["c", "d", "e"])
    assert sub.names == ("c", "d", "e")
    assert sub.upstream("d") == ("c",) and sub.upstream("c") == ()


def test_graph_resolves_names_case_insensitively():
    graph = build_graph([_asset("orders"), _asset("report", "Orders")])
    assert graph.upstream("report") == ("orders",)
    assert graph["report"].inputs[0].asset == "orders"
    assert graph["report"].inputs[0].param == "Orders"
    assert graph.lookup("ORDERS") == "orders"


def test_graph_unknown_upstream_suggests_and_locates():
    with pytest.raises(UnknownAssetError) as info:
        build_graph([_asset("orders"), _asset("report", "ordres")])
    message = str(info.value)
    assert message.startswith("assets/report.py:3: asset 'report': parameter 'ordres'")
    assert message.endswith("did you mean 'orders'?")


def test_graph_unknown_without_a_close_name_says_how_to_fix():
    with pytest.raises(
        UnknownAssetError, match="declare it as an asset or source, or fix the name"
    ):
        build_graph([_asset("report", "zzz")])


def test_graph_unknown_deps_entry_is_named_as_such():
    with pytest.raises(UnknownAssetError, match="deps entry 'nothere'"):
        build_graph([_asset("report", deps=("nothere",))])


def test_graph_duplicate_names_both_places():
    one, two = _asset("orders"), _asset("ORDERS")
    with pytest.raises(DuplicateAssetError) as info:
        build_graph([one, two])
    message = str(info.value)
    assert "'ORDERS'" in message and "'orders'" in message
    assert "assets/ORDERS.py:3" in message and "assets/orders.py:3" in message
    assert message.endswith("rename one.")


def test_graph_cycle_path_starts_at_smallest_name():
    with pytest.raises(CycleError) as info:
        build_graph([_asset("b", "a"), _asset("c", "b"), _asset("a", "c"), _asset("x")])
    assert "a -> b -> c -> a" in str(info.value)
    assert str(info.value).endswith("remove one of these dependencies.")


def test_graph_self_dependency():
    with pytest.raises(CycleError, match="asset 'a' depends on itself; remove 'a'"):
        build_graph([_asset("a", "a")])


def test_attach_checks_makes_check_reads_ordering_upstreams():
    from assetflow.graph import attach_checks, edge_kinds
    from assetflow.run import tracked_upstream

    checked = Asset(
        "orders",
        "python",
        "assets/orders.py",
        3,
        "default",
        AssetOptions(checks=("relationships(customer_id, Customers.id)",), deps=("seed",)),
        upstream=("raw", "seed"),
        inputs=(Input("raw", "raw"),),
    )
    graph = build_graph(
        attach_checks([checked, _asset("raw"), _asset("seed"), _asset("customers")], [])
    )
    orders = graph["orders"]
    assert orders.upstream == ("raw", "seed", "customers")
    assert orders.check_reads == ("customers",)
    assert edge_kinds(orders) == {"raw": "data", "seed": "deps", "customers": "check"}
    assert tracked_upstream(orders) == ("raw",)
    assert graph.names.index("customers") < graph.names.index("orders")
