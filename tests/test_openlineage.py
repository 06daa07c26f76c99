"""OpenLineage: the static JobEvent export and the run events of `materialize --openlineage`.

Every event is validated against the published OpenLineage JSON schemas vendored in
tests/fixtures/openlineage/spec (see the README there): the core spec's event definition,
then each facet against the schema its ``_schemaURL`` names. Nothing is fetched.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from conftest import TEMPLATE_ASSETS, run_assetflow
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from assetflow.openlineage import (
    FACET_SCHEMAS,
    SPEC,
    Locations,
    default_namespace,
    to_openlineage,
    uuid7,
)

SPEC_DIR = Path(__file__).parent / "fixtures" / "openlineage" / "spec"
CORE_1_0_2 = "https://openlineage.io/spec/1-0-2/OpenLineage.json"


@cache
def _registry() -> Registry:
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in SPEC_DIR.rglob("*.json")]
    resources = [(d["$id"], Resource.from_contents(d)) for d in documents]
    # The 1-0-0 facets refer to core 1-0-2's BaseFacet subtypes, which are not vendored;
    # 2-0-2 defines the same ones (plus an optional _deleted), so it stands in for 1-0-2.
    core = next(d for d in documents if d["$id"] == SPEC)
    resources.append((CORE_1_0_2, Resource.from_contents(core)))
    return Registry().with_resources(resources)


def _validate(instance: object, url: str) -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": url}
    validator = jsonschema.Draft202012Validator(
        schema,
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    validator.validate(instance)


def _facets(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from event["job"].get("facets", {}).items()
    yield from event.get("run", {}).get("facets", {}).items()
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        for group in ("facets", "inputFacets", "outputFacets"):
            yield from dataset.get(group, {}).items()


def assert_valid(event: dict[str, Any], definition: str) -> None:
    """``event`` is a valid ``definition`` (JobEvent, RunEvent) and so is each of its facets."""
    assert event["schemaURL"] == f"{SPEC}#/$defs/{definition}"
    _validate(event, event["schemaURL"])
    dt.datetime.fromisoformat(event["eventTime"])  # the format checker skips date-time
    assert urlsplit(event["producer"]).scheme == "https"
    for key, facet in _facets(event):
        _validate(facet, facet["_schemaURL"])
        # The facet sits under the key its own schema document defines it at.
        document_url = facet["_schemaURL"].split("#")[0]
        document = _registry().get_or_retrieve(document_url).value.contents
        assert key in document["properties"], (key, document_url)
        assert facet["_producer"] == event["producer"]


DOC: dict[str, Any] = {
    "schema_version": 2,
    "project": "shop",
    "generated_at": "2026-11-22T10:00:00+00:00",
    "nodes": [
        {
            "name": "raw_orders",
            "kind": "source",
            "file": "assets/sources.py",
            "upstream": [],
            "description": "Orders export.",
            "schema": [
                {"name": "order_id", "type": "BIGINT"},
                {"name": "status", "type": "VARCHAR"},
                {"name": "amount_cents", "type": "BIGINT"},
            ],
        },
        {
            "name": "paid_orders",
            "kind": "sql",
            "file": "assets/paid_orders.sql",
            "upstream": ["raw_orders"],
            "description": None,
            "schema": [
                {"name": "order_id", "type": "INTEGER"},
                {"name": "amount", "type": "DOUBLE"},
            ],
            "code": "SELECT order_id, amount_cents / 100 AS amount FROM raw_orders\n"
            "WHERE status = 'paid'\n",
        },
        {
            "name": "order_count",
            "kind": "python",
            "file": "assets/counts.py",
            "line": 7,
            "upstream": ["paid_orders"],
            "description": "How many orders were paid.",
            "schema": None,
        },
    ],
    "edges": [
        {"from": "raw_orders", "to": "paid_orders"},
        {"from": "paid_orders", "to": "order_count"},
    ],
    "column_edges": [
        {
            "from": "raw_orders",
            "from_column": "order_id",
            "to": "paid_orders",
            "to_column": "order_id",
            "kind": "direct",
            "transformation": "IDENTITY",
        },
        {
            "from": "raw_orders",
            "from_column": "amount_cents",
            "to": "paid_orders",
            "to_column": "amount",
            "kind": "direct",
            "transformation": "TRANSFORMATION",
        },
        {
            "from": "raw_orders",
            "from_column": "status",
            "to": "paid_orders",
            "to_column": None,
            "kind": "indirect",
            "transformation": "FILTER",
        },
    ],
}


def test_to_openlineage_one_valid_job_event_per_asset():
    events = json.loads(to_openlineage(DOC, namespace="assetflow://shop"))

    assert [e["job"]["name"] for e in events] == ["paid_orders", "order_count"]
    for event in events:
        assert_valid(event, "JobEvent")
        assert event["eventTime"] == DOC["generated_at"]
    sql, python = events
    assert set(sql["job"]["facets"]) == {"jobType", "sql"}
    assert set(python["job"]["facets"]) == {"jobType", "documentation"}
    assert sql["inputs"] == [
        {
            "namespace": "assetflow://shop",
            "name": "raw_orders",
            "facets": {"schema": sql["inputs"][0]["facets"]["schema"]},
        }
    ]
    assert [f["name"] for f in sql["inputs"][0]["facets"]["schema"]["fields"]] == [
        "order_id",
        "status",
        "amount_cents",
    ]
    assert python["outputs"] == [{"namespace": "assetflow://shop", "name": "order_count"}]


def test_to_openlineage_column_lineage_facet_of_a_sql_asset():
    (sql, _) = json.loads(to_openlineage(DOC, namespace="ns"))
    facet = sql["outputs"][0]["facets"]["columnLineage"]

    status = {
        "namespace": "ns",
        "name": "raw_orders",
        "field": "status",
        "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}],
    }
    assert facet["fields"] == {
        "order_id": {
            "inputFields": [
                {
                    "namespace": "ns",
                    "name": "raw_orders",
                    "field": "order_id",
                    "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}],
                },
                status,
            ]
        },
        "amount": {
            "inputFields": [
                {
                    "namespace": "ns",
                    "name": "raw_orders",
                    "field": "amount_cents",
                    "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION"}],
                },
                status,
            ]
        },
    }
    assert list(facet["fields"]) == ["order_id", "amount"]  # in the output's column order


def test_to_openlineage_is_deterministic():
    assert to_openlineage(DOC, namespace="ns") == to_openlineage(dict(DOC), namespace="ns")


def test_to_openlineage_names_file_sources_by_absolute_path(tmp_path):
    data = (tmp_path / "data" / "orders.csv").as_posix()
    locations = Locations(root=tmp_path, files={"raw_orders": data})

    (sql, python) = json.loads(to_openlineage(DOC, namespace="ns", locations=locations))

    assert_valid(sql, "JobEvent")
    assert (sql["inputs"][0]["namespace"], sql["inputs"][0]["name"]) == ("file", data)
    field = sql["outputs"][0]["facets"]["columnLineage"]["fields"]["order_id"]["inputFields"][0]
    assert (field["namespace"], field["name"]) == ("file", data)
    location = python["job"]["facets"]["sourceCodeLocation"]
    assert location["url"] == (tmp_path / "assets" / "counts.py").as_uri()
    assert location["path"] == "assets/counts.py"


def test_default_namespace_environment_overrides():
    assert default_namespace(DOC, environ={}) == "assetflow://shop"
    assert default_namespace("shop", environ={"OPENLINEAGE_NAMESPACE": "prod"}) == "prod"


def test_uuid7_is_version_7_and_time_ordered():
    earlier, later = uuid7(1_000, b"\xff" * 10), uuid7(1_001, bytes(10))
    assert (earlier.version, earlier.variant) == (7, "specified in RFC 4122")
    assert str(earlier) < str(later)


def _broken_facet(event: dict[str, Any]) -> None:
    del event["job"]["facets"]["jobType"]["integration"]


def _unknown_schema(event: dict[str, Any]) -> None:
    event["job"]["facets"]["jobType"]["_schemaURL"] = (
        "https://openlineage.io/spec/facets/9-9-9/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
    )


@pytest.mark.parametrize(
    ("break_it", "error"),
    [
        (lambda e: e["job"].pop("namespace"), jsonschema.ValidationError),
        (
            lambda e: e.update(run={"runId": "0190d6f6-0000-7000-8000-000000000000"}),
            jsonschema.ValidationError,
        ),
        (lambda e: e.update(eventTime=None), jsonschema.ValidationError),
        (lambda e: e["outputs"][0].update(name=3), jsonschema.ValidationError),
        (_broken_facet, jsonschema.ValidationError),
        (lambda e: e["job"]["facets"]["jobType"].pop("_producer"), jsonschema.ValidationError),
        (_unknown_schema, Unresolvable),
    ],
    ids=[
        "job-without-namespace",
        "job-event-with-a-run",
        "no-event-time",
        "dataset-name-not-a-string",
        "facet-without-required-field",
        "facet-without-producer",
        "facet-schema-not-vendored",
    ],
)
def test_validator_rejects_a_broken_event(break_it, error):
    event = json.loads(to_openlineage(DOC, namespace="ns"))[0]
    assert_valid(event, "JobEvent")
    break_it(event)
    with pytest.raises(error):
        assert_valid(event, "JobEvent")


def test_validator_rejects_an_error_facet_without_its_language():
    facet = {
        "_producer": "https://example.com/",
        "_schemaURL": FACET_SCHEMAS["errorMessage"],
        "message": "boom",
    }
    with pytest.raises(jsonschema.ValidationError, match="programmingLanguage"):
        _validate(facet, facet["_schemaURL"])


# The template, end to end through the command line.

FAILING_ASSET = """
from assetflow import asset


@asset
def broken(stg_orders):
    raise ValueError("the ledger is on fire")
"""


NO_NS = {"OPENLINEAGE_NAMESPACE": ""}  # the default namespace, whatever the caller's environment


@pytest.fixture
def shop(make_project) -> Path:
    return make_project("template")


def _events(lines: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines.splitlines()]


def _assert_pairs(events: list[dict[str, Any]], expected: dict[str, str]) -> None:
    """Each asset of ``expected`` has START then ``expected[asset]``, under one run id."""
    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        assert_valid(event, "RunEvent")
        by_run.setdefault(event["run"]["runId"], []).append(event)
    outcomes = {run[0]["job"]["name"]: [e["eventType"] for e in run] for run in by_run.values()}
    assert outcomes == {asset: ["START", end] for asset, end in expected.items()}


def test_materialize_openlineage_file_gets_start_and_complete_per_asset(shop):
    result = run_assetflow("materialize", "--openlineage", "lineage.jsonl", cwd=shop, env=NO_NS)

    assert result.returncode == 0, result.stderr
    events = _events((shop / "lineage.jsonl").read_text())
    _assert_pairs(events, dict.fromkeys(TEMPLATE_ASSETS, "COMPLETE"))
    stg_orders = next(e for e in events if e["job"]["name"] == "stg_orders")
    # stg_customers is read by stg_orders' relationships check only: ordering, not an input.
    assert stg_orders["inputs"] == [
        {"namespace": "file", "name": (shop / "data" / "orders.csv").as_posix()},
    ]
    complete = next(
        e for e in events if e["job"]["name"] == "stg_orders" and e["eventType"] == "COMPLETE"
    )
    assert complete["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] > 0

    again = run_assetflow("materialize", "--openlineage", "lineage.jsonl", cwd=shop)
    assert again.returncode == 0, again.stderr
    # Nothing was stale, nothing ran: the file is appended to, not rewritten.
    assert _events((shop / "lineage.jsonl").read_text()) == events


def test_materialize_openlineage_reports_a_failing_asset(shop):
    (shop / "assets" / "broken.py").write_text(FAILING_ASSET)

    result = run_assetflow("materialize", "--openlineage", "lineage.jsonl", cwd=shop)

    assert result.returncode == 1
    events = _events((shop / "lineage.jsonl").read_text())
    _assert_pairs(events, {**dict.fromkeys(TEMPLATE_ASSETS, "COMPLETE"), "broken": "FAIL"})
    fail = next(e for e in events if e["eventType"] == "FAIL")
    error = fail["run"]["facets"]["errorMessage"]
    assert "the ledger is on fire" in error["message"]
    assert error["programmingLanguage"] == "PYTHON"


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_materialize_openlineage_posts_to_an_http_endpoint(shop, collector):
    url, received = collector

    result = run_assetflow("materialize", "--openlineage", url, cwd=shop)

    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert {(path, kind) for path, kind, _ in received} == {("/api/v1/lineage", "application/json")}
    _assert_pairs(
        [json.loads(body) for _, _, body in received], dict.fromkeys(TEMPLATE_ASSETS, "COMPLETE")
    )


def test_materialize_openlineage_keeps_the_url_path(shop, collector):
    url, received = collector

    result = run_assetflow("materialize", "stg_customers", "--openlineage", f"{url}/ol", cwd=shop)

    assert result.returncode == 0, result.stderr
    assert [path for path, _, _ in received] == ["/ol", "/ol"]


def test_materialize_openlineage_unreachable_url_warns_once_and_runs(shop):
    with socket.socket() as s:  # a port nothing listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    result = run_assetflow("materialize", "--openlineage", f"http://127.0.0.1:{port}", cwd=shop)

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "OpenLineage" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning:"), result.stderr
    assert "8 materialized" in result.stderr


def test_template_static_export_validates(shop):
    from assetflow.api import load, select_names
    from assetflow.lineage import build_document
    from assetflow.openlineage import locate

    assert run_assetflow("materialize", cwd=shop).returncode == 0
    loaded = load(shop)
    doc = build_document(loaded, select_names(loaded), columns=True)

    events = json.loads(to_openlineage(doc, locations=locate(loaded)))

    assert {e["job"]["name"] for e in events} == TEMPLATE_ASSETS
    for event in events:
        assert_valid(event, "JobEvent")
    stg_orders = next(e for e in events if e["job"]["name"] == "stg_orders")
    assert "schema" in stg_orders["outputs"][0]["facets"]
    assert "columnLineage" in stg_orders["outputs"][0]["facets"]
    # Its relationships check reads stg_customers: an ordering edge, not an input.
    assert [i["name"] for i in stg_orders["inputs"]] == [(shop / "data/orders.csv").as_posix()]


def test_to_openlineage_inputs_leave_out_ordering_edges():
    raw_orders, paid_orders, order_count = DOC["nodes"]
    doc = {
        **DOC,
        "nodes": [
            raw_orders,
            paid_orders,
            {**order_count, "upstream": ["paid_orders", "raw_orders"]},
        ],
        "edges": [
            {"from": "raw_orders", "to": "paid_orders", "kind": "data"},
            {"from": "paid_orders", "to": "order_count", "kind": "data"},
            {"from": "raw_orders", "to": "order_count", "kind": "check"},
        ],
    }
    events = {e["job"]["name"]: e for e in json.loads(to_openlineage(doc, namespace="ns"))}
    assert [i["name"] for i in events["order_count"]["inputs"]] == ["paid_orders"]
    assert [i["name"] for i in events["paid_orders"]["inputs"]] == ["raw_orders"]
