"""OpenLineage: a static export of the lineage document, and run events of a run.

Two ways out, naming jobs and datasets the same way (OpenLineage spec 2-0-2):

* :func:`to_openlineage` turns the lineage document (:func:`assetflow.lineage.build_document`)
  into a JSON array of **JobEvents**, one per asset: the job is the asset's code, its
  inputs the upstream assets and sources, its output the asset itself, with schema and,
  for SQL assets, column lineage facets. Sources are datasets only, never jobs.
* :class:`RunEventEmitter` subscribes to a run's events and emits a **RunEvent** START
  when an asset starts and COMPLETE, FAIL or ABORT when it ends, as JSON lines to a
  file or POSTed to an OpenLineage HTTP endpoint.

Naming: a job is ``(namespace, asset name)``; the namespace defaults to
``assetflow://<project folder>`` and ``OPENLINEAGE_NAMESPACE`` overrides it. An asset's
dataset is ``(namespace, asset name)``, the name its DuckDB catalog view has. A file
source is ``("file", absolute path)`` as OpenLineage names local files (a glob names its
directory) when :class:`Locations` are given, else ``(namespace, source name)``.

Example:
    >>> doc = {"project": "shop", "generated_at": "2026-11-22T10:00:00+00:00",
    ...        "nodes": [{"name": "orders", "kind": "python", "upstream": []}]}
    >>> [e["job"]["name"] for e in json.loads(to_openlineage(doc, namespace="ns"))]
    ['orders']
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from itertools import takewhile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assetflow.api import LoadedProject
    from assetflow.definition import Asset
    from assetflow.events import Event
    from assetflow.graph import AssetGraph

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
_FACETS = "https://openlineage.io/spec/facets"
#: The schema each emitted facet follows, by facet key (the versions tests validate against).
FACET_SCHEMAS = {
    "jobType": f"{_FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "sourceCodeLocation": (
        f"{_FACETS}/1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
    ),
    "sql": f"{_FACETS}/1-0-1/SQLJobFacet.json#/$defs/SQLJobFacet",
    "documentation": f"{_FACETS}/1-0-1/DocumentationJobFacet.json#/$defs/DocumentationJobFacet",
    "schema": f"{_FACETS}/1-0-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "columnLineage": (
        f"{_FACETS}/1-1-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
    ),
    "errorMessage": f"{_FACETS}/1-0-0/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "outputStatistics": (
        f"{_FACETS}/1-0-0/OutputStatisticsOutputDatasetFacet.json"
        "#/$defs/OutputStatisticsOutputDatasetFacet"
    ),
}
#: Where an HTTP target without a path receives events, as OpenLineage's HTTP transport does.
HTTP_ENDPOINT = "/api/v1/lineage"


@cache
def producer() -> str:
    """The URI every event and facet names as its producer: this assetflow release."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"https://pypi.org/project/assetflow/{version('assetflow')}/"
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "https://pypi.org/project/assetflow/"


def default_namespace(
    project: str | Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> str:
    """``OPENLINEAGE_NAMESPACE`` if set, else ``assetflow://<project>``.

    ``project`` is the project's folder name, or a lineage document (its ``project``).

    Example:
        >>> default_namespace("my shop", environ={})
        'assetflow://my%20shop'
        >>> default_namespace({"project": "shop"}, environ={"OPENLINEAGE_NAMESPACE": "prod"})
        'prod'
    """
    from urllib.parse import quote

    env = os.environ if environ is None else environ
    name = project if isinstance(project, str) else str(project["project"])
    return env.get("OPENLINEAGE_NAMESPACE") or f"assetflow://{quote(name)}"


@dataclass(frozen=True, slots=True)
class Locations:
    """Where a project lives on disk: source-code URLs of jobs and file names of sources."""

    root: Path
    #: Absolute path of each file source's data (a glob's directory), by source name.
    files: Mapping[str, str] = field(default_factory=dict)


def locate(loaded: LoadedProject) -> Locations:
    """The :class:`Locations` of a loaded project."""
    root = loaded.config.root
    files = {}
    for a in loaded.graph:
        path = a.source.path if a.source is not None else None
        if path is not None:
            files[a.name] = _data_path(root, path)
    return Locations(root=root, files=files)


def _data_path(root: Path, path: str) -> str:
    # A glob is many files; OpenLineage names such a dataset after their directory.
    parts = Path(path).parts
    static = list(takewhile(lambda part: not any(c in part for c in "*?["), parts))
    full = Path(*static) if static else Path()
    return (full if full.is_absolute() else root / full).as_posix()


def _facet(key: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer(), "_schemaURL": FACET_SCHEMAS[key], **fields}


@dataclass(frozen=True, slots=True)
class _Naming:
    namespace: str
    locations: Locations | None

    def dataset(self, name: str) -> dict[str, Any]:
        files = self.locations.files if self.locations else {}
        if name in files:
            return {"namespace": "file", "name": files[name]}
        return {"namespace": self.namespace, "name": name}

    def job(self, node: Mapping[str, Any]) -> dict[str, Any]:
        facets: dict[str, Any] = {
            "jobType": _facet(
                "jobType", processingType="BATCH", integration="ASSETFLOW", jobType="ASSET"
            )
        }
        if self.locations is not None and node.get("file"):
            url = (self.locations.root / node["file"]).as_uri()
            facets["sourceCodeLocation"] = _facet(
                "sourceCodeLocation", type="file", url=url, path=node["file"]
            )
        if node.get("kind") == "sql" and node.get("code"):
            facets["sql"] = _facet("sql", query=node["code"])
        if node.get("description"):
            facets["documentation"] = _facet("documentation", description=node["description"])
        return {"namespace": self.namespace, "name": node["name"], "facets": facets}


def _with_facets(dataset: dict[str, Any], facets: dict[str, Any]) -> dict[str, Any]:
    return {**dataset, "facets": facets} if facets else dataset


def _schema_facets(node: Mapping[str, Any] | None) -> dict[str, Any]:
    schema = node.get("schema") if node else None
    if not schema:
        return {}
    fields = [{"name": c["name"], "type": c["type"]} for c in schema]
    return {"schema": _facet("schema", fields=fields)}


def to_openlineage(
    doc: Mapping[str, Any],
    *,
    namespace: str | None = None,
    locations: Locations | None = None,
) -> str:
    """The lineage document as a JSON array of OpenLineage JobEvents, one per asset.

    Args:
        doc: the lineage document; with ``column_edges`` SQL outputs get a
            ``columnLineage`` facet, with ``code`` (details) SQL jobs a ``sql`` facet.
        namespace: the jobs' and assets' namespace (default: :func:`default_namespace`).
        locations: the project on disk, for ``sourceCodeLocation`` facets and file names
            of sources (pass the same to :class:`RunEventEmitter` so names agree).

    Events are in the document's (topological) order and carry its ``generated_at``
    as ``eventTime``, so the same document always gives the same text. Inputs are the
    upstreams whose data the asset reads: OpenLineage has no ordering-only input, and
    its consumers draw every input as data flowing in, so ``deps`` and ``check`` edges
    are left out.
    """
    naming = _Naming(namespace or default_namespace(doc), locations)
    nodes = {n["name"]: n for n in doc["nodes"]}
    ordering = {
        (e["from"], e["to"]) for e in doc.get("edges", ()) if e.get("kind", "data") != "data"
    }
    lineage = _column_lineage(doc.get("column_edges") or [], nodes, naming)
    events = []
    for node in doc["nodes"]:
        if node["kind"] == "source":
            continue
        name = node["name"]
        output_facets = _schema_facets(node)
        if name in lineage:
            output_facets["columnLineage"] = _facet("columnLineage", fields=lineage[name])
        events.append(
            {
                "eventTime": doc["generated_at"],
                "producer": producer(),
                "schemaURL": f"{SPEC}#/$defs/JobEvent",
                "job": naming.job(node),
                "inputs": [
                    _with_facets(naming.dataset(up), _schema_facets(nodes.get(up)))
                    for up in sorted(node["upstream"])
                    if (up, name) not in ordering
                ],
                "outputs": [_with_facets(naming.dataset(name), output_facets)],
            }
        )
    return json.dumps(events, indent=2, ensure_ascii=False) + "\n"


def _column_lineage(
    edges: Iterable[Mapping[str, Any]], nodes: Mapping[str, Mapping[str, Any]], naming: _Naming
) -> dict[str, dict[str, Any]]:
    """``{asset: {to_column: {"inputFields": [...]}}}`` from the document's column edges."""
    found: dict[str, dict[str, dict[tuple[str, str, str], set[tuple[str, str]]]]] = {}
    for e in edges:
        source = naming.dataset(e["from"])
        key = (source["namespace"], source["name"], e["from_column"])
        transformation = (str(e["kind"]).upper(), str(e["transformation"]))
        schema = nodes.get(e["to"], {}).get("schema") or []
        # Column lineage 1-1-0 has no dataset-wide entry: an edge into no particular
        # column (a filter, a join key) applies to every output column.
        targets = [e["to_column"]] if e.get("to_column") else [c["name"] for c in schema]
        for column in targets:
            fields = found.setdefault(e["to"], {}).setdefault(column, {})
            fields.setdefault(key, set()).add(transformation)
    result: dict[str, dict[str, Any]] = {}
    for asset, columns in found.items():
        order = [c["name"] for c in nodes.get(asset, {}).get("schema") or []]
        rank = {c: i for i, c in enumerate(order)}
        result[asset] = {
            column: {
                "inputFields": [
                    {
                        "namespace": ns,
                        "name": name,
                        "field": f,
                        "transformations": [
                            {"type": t, "subtype": s} for t, s in sorted(inputs[(ns, name, f)])
                        ],
                    }
                    for ns, name, f in sorted(inputs)
                ]
            }
            for column, inputs in sorted(
                columns.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])
            )
        }
    return result


def uuid7(ms: int, random: bytes) -> uuid.UUID:
    """An RFC 9562 version 7 UUID: ``ms`` since the epoch, then 74 bits of ``random``.

    Run ids sort by start time, as the OpenLineage spec recommends.

    Example:
        >>> u = uuid7(1_700_000_000_000, bytes(10))
        >>> (u.version, str(u)[:13])
        (7, '018bcfe5-6800')
    """
    value = (ms & (1 << 48) - 1) << 80 | int.from_bytes(random[:10].ljust(10, b"\0"), "big")
    value = value & ~(0xF << 76) | 7 << 76  # version
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return uuid.UUID(int=value)


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds")


class RunEventEmitter:
    """An ``on_event`` subscriber that emits OpenLineage RunEvents for the assets of a run.

    Each asset execution is an OpenLineage run (retries included) with a time-ordered
    id: START when its first attempt starts, then COMPLETE (with the ``outputStatistics``
    row count when known), FAIL (with an ``errorMessage`` facet) or ABORT (cancelled
    while running). Assets that were fresh, skipped, or cancelled before starting emit
    nothing.

    ``target`` is a file (JSON lines appended, flushed per event, created if missing) or
    an ``http://``/``https://`` URL that each event is POSTed to (to ``/api/v1/lineage``
    when the URL has no path). Sending never fails the run: the first failure is reported
    through ``warn`` and the emitter sends nothing more.

    Raises:
        UsageError: ``target`` is a file that cannot be opened for appending.
    """

    def __init__(
        self,
        target: str,
        *,
        graph: AssetGraph,
        namespace: str,
        locations: Locations | None = None,
        warn: Callable[[str], None] | None = None,
        timeout: float = 3.0,
    ) -> None:
        self._graph = graph
        self._naming = _Naming(namespace, locations)
        self._warn = warn or (lambda message: None)
        self._timeout = timeout
        self._runs: dict[str, uuid.UUID] = {}
        self._active = True  # False after close() or the first failure
        self._file: IO[str] | None = None
        self._url: str | None = None
        if target.startswith(("http://", "https://")):
            self._url = _endpoint(target)
        else:
            try:
                self._file = open(target, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
            except OSError as e:
                from assetflow.errors import UsageError

                raise UsageError(
                    f"--openlineage {target}: cannot append to it ({e.strerror}); "
                    "give a writable file or an http(s):// URL."
                ) from None

    def __call__(self, event: Event) -> None:
        """Emit the RunEvents that ``event`` stands for, if any."""
        if not self._active:
            return
        try:
            for run_event in self._translate(event):
                self._send(run_event)
        except Exception as e:  # lineage is a side channel: it must never break the run
            self._give_up(f"{type(e).__name__}: {e}")

    def close(self) -> None:
        """Close the file target; the emitter emits nothing after this."""
        self._active = False
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunEventEmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _translate(self, event: Event) -> list[dict[str, Any]]:
        from assetflow import events as ev

        if isinstance(event, ev.AssetStarted):
            if event.asset in self._runs:  # a retry: still the same run
                return []
            return [self._start(event.asset, event.time)]
        if isinstance(event, ev.AssetMaterialized):
            statistics = None
            if event.rows is not None:
                statistics = {"outputStatistics": _facet("outputStatistics", rowCount=event.rows)}
            return self._end(event.asset, event.time, "COMPLETE", output_facets=statistics)
        if isinstance(event, ev.AssetFailed):
            language = "SQL" if self._graph[event.asset].kind == "sql" else "PYTHON"
            error: dict[str, Any] = {"message": event.error, "programmingLanguage": language}
            if event.traceback:
                error["stackTrace"] = event.traceback
            facets = {"errorMessage": _facet("errorMessage", **error)}
            # A failure before any attempt started still needs its run opened.
            opened = [] if event.asset in self._runs else [self._start(event.asset, event.time)]
            return opened + self._end(event.asset, event.time, "FAIL", run_facets=facets)
        if isinstance(event, ev.AssetCancelled) and event.asset in self._runs:
            return self._end(event.asset, event.time, "ABORT")
        return []

    def _start(self, asset: str, time: float) -> dict[str, Any]:
        self._runs[asset] = uuid7(int(time * 1000), os.urandom(10))
        return self._run_event(asset, time, "START")

    def _end(
        self,
        asset: str,
        time: float,
        kind: str,
        *,
        run_facets: dict[str, Any] | None = None,
        output_facets: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        if asset not in self._runs:
            return []
        event = self._run_event(asset, time, kind, run_facets, output_facets)
        del self._runs[asset]
        return [event]

    def _run_event(
        self,
        asset: str,
        time: float,
        kind: str,
        run_facets: dict[str, Any] | None = None,
        output_facets: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        node = _node(self._graph[asset])
        output = self._naming.dataset(asset)
        if output_facets:
            output["outputFacets"] = output_facets
        run: dict[str, Any] = {"runId": str(self._runs[asset])}
        if run_facets:
            run["facets"] = run_facets
        return {
            "eventType": kind,
            "eventTime": _iso(time),
            "producer": producer(),
            "schemaURL": f"{SPEC}#/$defs/RunEvent",
            "run": run,
            "job": self._naming.job(node),
            "inputs": [
                self._naming.dataset(up) for up in sorted(_data_upstream(self._graph[asset]))
            ],
            "outputs": [output],
        }

    def _send(self, run_event: dict[str, Any]) -> None:
        body = json.dumps(run_event, ensure_ascii=False)
        if self._file is not None:
            self._file.write(body + "\n")
            self._file.flush()
        elif self._url is not None:
            self._post(body.encode("utf-8"))

    def _post(self, body: bytes) -> None:
        import urllib.error
        import urllib.request

        assert self._url is not None
        request = urllib.request.Request(
            self._url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read()
        except urllib.error.HTTPError as e:
            self._give_up(f"HTTP {e.code} {e.reason}")
        except (urllib.error.URLError, OSError) as e:
            self._give_up(str(getattr(e, "reason", e)))

    def _give_up(self, reason: str) -> None:
        if not self._active:
            return
        self._active = False
        where = self._url or (self._file.name if self._file is not None else "the target")
        self._warn(
            f"warning: OpenLineage events could not be sent to {where} ({reason}); "
            "the run goes on without sending more."
        )


def _endpoint(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.path in ("", "/"):
        parts = parts._replace(path=HTTP_ENDPOINT)
    return urlunsplit(parts)


def _node(a: Asset) -> dict[str, Any]:
    """The lineage-document node of ``a``, with its SQL (the ``sql`` facet's query)."""
    from assetflow.lineage import asset_code, node_record

    return {**node_record(a), "code": asset_code(a) if a.kind == "sql" else None}


def _data_upstream(a: Asset) -> list[str]:
    """The upstreams whose data ``a`` reads: not its ordering-only ``deps`` and check reads."""
    from assetflow.graph import edge_kinds

    return [up for up, kind in edge_kinds(a).items() if kind == "data"]
