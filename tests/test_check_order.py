"""What a check reads orders the run: checks never race the assets they read.

A ``relationships`` check, a ``@check`` function's further parameters and a SQL check
file's other tables are ordering-only upstreams of the checked asset: the scheduler
runs it after them, their data never makes it stale, and when one failed an error
check skips the asset instead of judging its data against nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TEMPLATE, TEMPLATE_ASSETS, run_assetflow

import assetflow
from assetflow import events as ev
from assetflow.errors import CycleError, UnknownAssetError
from assetflow.graph import edge_kinds
from assetflow.run import tracked_upstream

#: ``customers`` is slow: anything started before it ends would read no data.
READERS = """
import time

import pyarrow as pa

from assetflow import asset, check


@asset
def customers() -> pa.Table:
    time.sleep(DELAY)
    return pa.table({"id": VALUES})


@asset(checks=["relationships(customer_id, customers.id)"])
def orders() -> pa.Table:
    return pa.table({"order_id": [10, 11], "customer_id": [1, 3]})


@asset
def leads() -> pa.Table:
    return pa.table({"customer_id": [2, 3]})


@check("leads")
def leads_are_customers(leads: pa.Table, customers: pa.Table) -> bool:
    return set(leads["customer_id"].to_pylist()) <= set(customers["id"].to_pylist())


@asset
def visits() -> pa.Table:
    return pa.table({"customer_id": [1, 1, 2]})
"""

SQL_CHECK = """-- asset: visits
SELECT * FROM visits WHERE customer_id NOT IN (SELECT id FROM customers)
"""


def _project(tmp_path: Path, *, delay: float = 0.4, values: str = "[1, 2, 3]") -> Path:
    root = tmp_path / "proj"
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "checks").mkdir(exist_ok=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    code = READERS.replace("DELAY", str(delay)).replace("VALUES", values)
    (root / "assets" / "shop.py").write_text(code)
    (root / "checks" / "known_visitors.sql").write_text(SQL_CHECK)
    return root


def _run(root: Path, *select: str, **kwargs) -> tuple[assetflow.run.RunResult, list[ev.Event]]:  # type: ignore[name-defined]
    seen: list[ev.Event] = []
    result = assetflow.materialize(
        list(select) or None, project=root, on_event=seen.append, **kwargs
    )
    return result, seen


def _checks(events: list[ev.Event]) -> dict[tuple[str, str], ev.CheckEvaluated]:
    return {(e.asset, e.check): e for e in events if isinstance(e, ev.CheckEvaluated)}


def test_check_reads_are_ordering_upstreams_of_the_checked_asset(tmp_path):
    graph = assetflow.load(_project(tmp_path)).graph
    for name in ("orders", "leads", "visits"):
        assert "customers" in graph.upstream(name), name
        assert graph[name].check_reads == ("customers",)
        assert edge_kinds(graph[name]) == {"customers": "check"}
        assert tracked_upstream(graph[name]) == ()  # its data never makes them stale
    assert graph.downstream("customers") == ("leads", "orders", "visits")


def test_template_orders_its_relationships_checks_without_deps():
    graph = assetflow.load(TEMPLATE).graph
    assert edge_kinds(graph["stg_orders"])["stg_customers"] == "check"
    assert edge_kinds(graph["stg_payments"])["stg_orders"] == "check"
    assert not any(graph[n].options.deps for n in TEMPLATE_ASSETS)


def test_checked_assets_start_after_what_their_checks_read(tmp_path):
    result, events = _run(_project(tmp_path), workers=2)
    assert result.ok, [(a.name, a.outcome, a.error) for a in result.assets]
    started = {e.asset: e.time for e in events if isinstance(e, ev.AssetStarted)}
    ended = {e.asset: e.time for e in events if isinstance(e, ev.AssetMaterialized)}
    for name in ("orders", "leads", "visits"):
        assert started[name] >= ended["customers"], name
    checks = _checks(events)
    assert all(c.passed for c in checks.values()), checks
    assert {"orders", "leads", "visits"} == {asset for asset, _ in checks}


def test_check_reads_do_not_make_the_asset_stale(tmp_path):
    root = _project(tmp_path, delay=0)
    assert _run(root)[0].ok
    _project(tmp_path, delay=0, values="[1, 2, 3, 4]")  # customers' data changes
    result, _ = _run(root)
    outcomes = {a.name: a.outcome for a in result.assets}
    assert outcomes == {
        "customers": "materialized",
        "orders": "fresh",
        "leads": "fresh",
        "visits": "fresh",
    }
    assert all(s.status == "fresh" for s in assetflow.status(project=root))


def test_a_fresh_asset_is_not_skipped_when_what_its_check_reads_fails(tmp_path):
    root = _project(tmp_path, delay=0)
    assert _run(root)[0].ok
    shop = root / "assets" / "shop.py"
    shop.write_text(shop.read_text().replace("time.sleep(0)", "raise RuntimeError('broken')"))
    result, _ = _run(root)
    outcomes = {a.name: a.outcome for a in result.assets}
    assert outcomes == {
        "customers": "failed",
        "orders": "fresh",
        "leads": "fresh",
        "visits": "fresh",
    }


FAILING = """
import pyarrow as pa

from assetflow import asset


@asset
def customers() -> pa.Table:
    raise RuntimeError("the export broke")


@asset(checks=["relationships(customer_id, customers.id)"])
def orders() -> pa.Table:
    return pa.table({"customer_id": [1]})


@asset(checks=["warn: relationships(customer_id, customers.id)"])
def leads() -> pa.Table:
    return pa.table({"customer_id": [1]})


@asset
def order_count(orders: pa.Table) -> int:
    return orders.num_rows


@asset
def accounts(customers: pa.Table) -> pa.Table:
    return customers


@asset(checks=["relationships(customer_id, accounts.id)"])
def invoices() -> pa.Table:
    return pa.table({"customer_id": [1]})
"""


def test_error_check_reading_a_failed_asset_skips_it_and_a_warning_runs(tmp_path):
    root = tmp_path / "proj"
    (root / "assets").mkdir(parents=True)
    (root / "assetflow.toml").write_text('assets = "assets"\n')
    (root / "assets" / "shop.py").write_text(FAILING)
    result, events = _run(root, workers=2)
    by_name = {a.name: a for a in result.assets}
    assert by_name["customers"].outcome == "failed"
    assert by_name["orders"].outcome == "skipped"
    assert by_name["orders"].error == (
        "skipped (check relationships(customer_id, customers.id) reads customers, which failed)"
    )
    assert by_name["order_count"].outcome == "skipped"
    assert by_name["accounts"].outcome == "skipped"
    assert by_name["invoices"].error == (
        "skipped (check relationships(customer_id, accounts.id) reads accounts, which was skipped)"
    )
    assert by_name["leads"].outcome == "materialized"
    warning = _checks(events)[("leads", "relationships(customer_id, customers.id)")]
    assert not warning.passed and warning.severity == "warn"
    assert warning.message == (
        "check relationships(customer_id, customers.id) could not run: customers has no data "
        "to read (not materialized yet, or not a table)"
    )


@pytest.mark.parametrize(
    ("selected", "check"),
    [
        ("orders", "relationships(customer_id, customers.id)"),
        ("leads", "leads_are_customers()"),
        ("visits", "known_visitors.sql"),
    ],
    ids=["relationships", "check-function", "sql-check-file"],
)
def test_check_reading_an_unselected_asset_without_data_says_so(tmp_path, selected, check):
    result, events = _run(_project(tmp_path, delay=0), selected)
    [asset] = result.assets
    assert asset.outcome == "failed"
    message = _checks(events)[(selected, check)].message
    assert "could not run: customers has no data to read" in message, message
    assert "Catalog Error" not in (asset.error or "")


def test_check_reading_its_downstream_is_a_cycle_naming_the_check(tmp_path):
    root = _project(tmp_path, delay=0)
    (root / "assets" / "more.py").write_text(
        "from assetflow import asset\n\n\n"
        "@asset(checks=['relationships(id, customer_orders.customer_id)'])\n"
        "def accounts(customers):\n    return customers\n\n\n"
        "@asset\ndef customer_orders(accounts):\n    return accounts\n"
    )
    with pytest.raises(CycleError) as info:
        assetflow.load(root)
    assert str(info.value) == (
        "assets/more.py:4: check relationships(id, customer_orders.customer_id) of asset "
        "'accounts' reads 'customer_orders', which depends on 'accounts' (accounts -> "
        "customer_orders -> accounts); a check runs before its asset is published, so it "
        "cannot wait for the asset's own downstream: move the check to 'customer_orders' "
        "or remove it."
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "@asset(checks=['relationships(customer_id, custmers.id)'])\ndef more():\n"
            "    return 1\n",
            "assets/more.py:4: check relationships(customer_id, custmers.id) reads 'custmers', "
            "which is not an asset or source; did you mean 'customers'?",
        ),
        (
            "@asset\ndef more():\n    return 1\n\n\n"
            "@check('more')\ndef known(more, custmers):\n    return True\n",
            "assets/more.py:9: @check known() parameter 'custmers' is not an asset or source; "
            "did you mean 'customers'?",
        ),
    ],
    ids=["relationships", "check-function"],
)
def test_check_reading_an_unknown_asset_is_a_definition_error(tmp_path, code, message):
    root = _project(tmp_path, delay=0)
    (root / "assets" / "more.py").write_text(f"from assetflow import asset, check\n\n\n{code}")
    with pytest.raises(UnknownAssetError) as info:
        assetflow.load(root)
    assert str(info.value) == message


def test_template_passes_every_check_with_two_workers_every_time(make_project):
    root = make_project("template")
    query = (
        "SELECT count(*) FILTER (WHERE passed), count(*) FILTER (WHERE NOT passed) "
        "FROM state.check_results"
    )
    for attempt in range(3):
        shutil.rmtree(root / ".assetflow", ignore_errors=True)
        result = run_assetflow("materialize", "-j", "2", cwd=root)
        assert result.returncode == 0, (attempt, result.stderr)
        counted = run_assetflow("sql", query, "--format", "json", cwd=root)
        [[passed, failed]] = json.loads(counted.stdout)["rows"]
        assert (passed, failed) == (31, 0), (attempt, result.stderr)


def test_assetflow_check_gives_check_functions_the_current_data_they_read(tmp_path):
    root = _project(tmp_path, delay=0)
    assert _run(root)[0].ok
    (root / "assets" / "later.py").write_text(
        "from assetflow import check\n\n\n@check('orders')\n"
        "def more_orders_than_customers(orders, customers):\n"
        "    return orders.num_rows > customers.num_rows\n"
    )
    result = run_assetflow("check", "--format", "json", cwd=root)
    assert result.returncode == 1, result.stderr
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["asset"], finding["check"]) == ("orders", "more_orders_than_customers()")
    assert (
        finding["message"]
        == "check more_orders_than_customers(): more_orders_than_customers() failed"
    )
