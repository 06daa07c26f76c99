"""Code versions: what an asset's code is, as a hash blind to comments and layout.

A Python asset's version hashes its function's syntax tree (docstring and
decorators dropped), the trees of the project-local helpers, classes and
module constants it references, followed transitively, and the options that
change its output. A SQL asset's hashes its normalized query and options.
``version="..."`` pins either. Code outside the project (libraries, the
standard library, builtins) is not followed: library versions are not tracked.

Tracing a Python asset (:mod:`assetflow.trace`) records every read its
version rests on: which project file was parsed for a module, and what each
looked-up module-level name held (see ``Tracer.token``). :func:`cached_code_versions` keeps each
version with its reads and reuses it while every read sees the same thing.

Example:
    >>> short("a1b2c3d4e5f60718293a4b5c6d7e8f90")
    'a1b2c3d'
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from hashlib import blake2b
from pathlib import Path
from types import FunctionType
from typing import Any

from assetflow.definition import Asset, AssetOptions
from assetflow.graph import AssetGraph
from assetflow.trace import UNTRACKED, Read, Reads, Tracer, export_values


def code_versions(graph: AssetGraph, package: str) -> dict[str, str]:
    """Code version of every python and sql asset in graph (sources are skipped).

    Args:
        graph: The project's assets.
        package: The module prefix its Python files were imported under
            (``Project.package``); only modules under it are followed.
    """
    assets = [a for a in graph if a.kind != "source"]
    return {name: version for name, (version, _) in _trace(assets, Tracer(package)).items()}


def check_versions(graph: AssetGraph, package: str) -> dict[str, str]:
    """For each asset with checks, a version of its checks: what they are, not what they found.

    Built-in checks by their text and severity, ``@check`` functions like an
    asset's function (helpers followed, bound values included), SQL check files
    by their query. An asset whose checks' version changed has its checks
    re-evaluated against its current data (``plan.CauseKind.CHECKS_CHANGED``).
    """
    from assetflow.values import describe_value

    tracer = Tracer(package)
    versions = {}
    with _collector_paused():
        for a in graph:
            if not (a.options.checks or a.custom_checks or a.sql_checks):
                continue
            h = blake2b(b"checks\0", digest_size=16)
            for text in a.options.checks:
                h.update(f"builtin\0{text}\n".encode())
            for c in sorted(a.custom_checks, key=lambda c: c.name):
                h.update(f"custom\0{c.name}\0{c.severity}\0".encode())
                try:
                    probe = Asset(c.name, "python", c.file, c.line, "", AssetOptions(), fn=c.fn)
                    h.update(tracer.trace(probe).parts)
                except Exception:  # not traceable (no source): its description still counts
                    h.update(describe_value(c.fn, lambda m: False).text.encode())
            for q in sorted(a.sql_checks, key=lambda q: q.name):
                h.update(f"sql\0{q.name}\0{q.severity}\0{q.query}\n".encode())
            versions[a.name] = h.hexdigest()
    return versions


def code_version_notes(
    graph: AssetGraph, package: str, names: Iterable[str]
) -> dict[str, tuple[str, ...]]:
    """For each named Python asset, the sentences on what its code version sees only roughly.

    A module value with no exact description (see :func:`assetflow.trace.describe_value`)
    enters the version by its type and ``repr``: a change its ``repr`` does not show
    is not seen. Pinned assets (``version=``) get none.
    """
    tracer = Tracer(package)
    notes = {}
    with _collector_paused():
        for name in names:
            asset = graph[name]
            if asset.kind == "python" and asset.options.version is None:
                found = tracer.trace(asset).notes
                if found:
                    notes[name] = tuple(map(_note_sentence, found))
    return notes


def _note_sentence(value: str) -> str:
    return (
        f"its code version sees the {value} only by its type and repr; if the "
        "asset's output depends on that value, pin the version with @asset(version=...) "
        "and change it when the value changes"
    )


def _trace(assets: Iterable[Asset], tracer: Tracer) -> dict[str, tuple[str, Reads]]:
    """Each asset's version and the reads it rests on (none for SQL and pinned ones)."""
    with _collector_paused():
        return {a.name: _version(a, tracer) for a in assets}


@contextmanager
def _collector_paused() -> Iterator[None]:
    # Parsing makes hundreds of thousands of AST objects that all stay alive, and
    # so do the reads: the collector's passes over them (and over every loaded
    # module) would cost more than making them.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _version(asset: Asset, tracer: Tracer) -> tuple[str, Reads]:
    if asset.options.version is not None:
        return _hash(b"pinned:" + asset.options.version.encode()), frozenset()
    if asset.kind == "sql":
        # DuckDB's parse tree, digested at load: see assetflow/sql_tree.py.
        return _hash(b"sql\0" + asset.sql.tree.encode(), asset.options), frozenset()
    traced = tracer.trace(asset)
    return _hash(traced.parts, asset.options), traced.reads


CACHE_FILE = "code_versions.json"  # the versions of one set of file signatures: no-op runs
READS_FILE = "code_version_reads.json"  # each version with what it rests on: after edits
_RACY_NS = 2_000_000_000  # a file modified this close to a read may change again unseen


def cached_code_versions(
    graph: AssetGraph,
    package: str,
    *,
    assets_dir: Path,
    cache_dir: Path,
    now: float | None = None,
) -> dict[str, str]:
    """:func:`code_versions`, reused from earlier calls as far as the code is unchanged.

    While no .py or .sql file under the assets folder changed (same paths,
    sizes and modification times), every version is reused at the cost of one
    ``os.walk`` and a look at the module-level names the traces read: the
    files stand for the code, and the names for what importing it made (a
    constant read from a file or chosen by an environment variable).

    After an edit, each version is reused while its asset is declared the same
    way (file, function, line, output options), every module-level name its
    trace looked up holds the same kind of thing (the same helper, a value
    with the same description), and every project file it parsed is unchanged.
    A SQL version is reused for the same parse tree and options. So an edit
    recomputes the assets defined in the edited file and those whose traces
    parsed it or looked up a name it rebinds; the rest are reused. A version
    that rests on something no read describes (a function with no source, a
    cycle of imports) is recomputed every time.

    Like git's index, the cache takes a file whose size and ``mtime_ns`` are
    unchanged to have unchanged contents. That fails for an edit of the same
    size within the file system's timestamp granularity after the file was
    read, so a file modified less than two seconds before ``now`` is not
    vouched for: the versions that read it are recomputed on the next call.

    Args:
        graph: The project's assets.
        package: The module prefix its Python files were imported under.
        assets_dir: The assets folder, whose files the signatures cover.
        cache_dir: Where the cache files live; written only if its parent (the
            state folder) exists.
        now: Seconds since the epoch (default: the clock), for the two seconds.
    """
    now_ns = time.time_ns() if now is None else int(now * 1_000_000_000)
    files = _file_signatures(assets_dir)
    assets = [a for a in graph if a.kind != "source"]
    tracer = Tracer(package, files_root=f"{assets_dir}{os.sep}")
    # Values bound to a function object (a factory's arguments, parameter defaults) are
    # in no file and no module name: they key the no-op path beside the files.
    signature = _signature(files, _bound_tokens(assets, tracer))
    versions = _versions_for(cache_dir / CACHE_FILE, signature, assets, tracer)
    if versions is not None:
        return versions
    with _collector_paused():  # the reads are many small objects too
        cache = _Cache.load(cache_dir / READS_FILE, files, tracer)
        identities = {a.name: _identity(a, tracer) for a in assets}
        reused = {}
        for name, identity in identities.items():
            version = cache.version(name, identity)
            if version is not None:
                reused[name] = version
        computed = _trace((a for a in assets if a.name not in reused), tracer)
        versions = {
            a.name: reused[a.name] if a.name in reused else computed[a.name][0] for a in assets
        }
        if cache_dir.parent.is_dir():  # no state folder yet: reading a project must not create one
            stable = {rel: sig for rel, sig in files.items() if sig[1] < now_ns - _RACY_NS}
            records = {name: (identities[name], *computed[name]) for name in computed}
            cache.save(cache_dir / READS_FILE, stable, reused, records)
            names = _name_reads(cache, reused, computed)
            vouched = signature if len(stable) == len(files) and names is not None else None
            _write_json(
                cache_dir / CACHE_FILE,
                {"key": _cache_key(), "signature": vouched, "versions": versions, "reads": names},
            )
    return versions


def _file_signatures(assets_dir: Path) -> dict[str, tuple[int, int]]:
    """Size and ``mtime_ns`` of every .py and .sql file under ``assets_dir``, by relative path."""
    cut = len(str(assets_dir)) + 1
    signatures = {}
    for dirpath, dirnames, filenames in os.walk(assets_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith((".py", ".sql")):
                full = os.path.join(dirpath, name)
                st = os.stat(full)
                signatures[full[cut:]] = (st.st_size, st.st_mtime_ns)
    return signatures


def _signature(files: Mapping[str, tuple[int, int]], bound: Mapping[str, str]) -> str:
    h = blake2b(_cache_key().encode(), digest_size=16)
    for rel, (size, mtime) in files.items():
        h.update(f"{rel}\0{size}\0{mtime}\n".encode())
    for name, token in sorted(bound.items()):
        h.update(f"{name}\0{token}\n".encode())
    return h.hexdigest()


def _bound_tokens(assets: Iterable[Asset], tracer: Tracer) -> dict[str, str]:
    """A digest of the values bound to each Python asset's function, for those that have any."""
    tokens = {}
    for a in assets:
        if a.kind == "python" and a.options.version is None and isinstance(a.fn, FunctionType):
            token = tracer.bound_token(a.fn, export_values(a))
            if token:
                tokens[a.name] = token
    return tokens


def _versions_for(
    path: Path, signature: str, assets: list[Asset], tracer: Tracer
) -> dict[str, str] | None:
    """The versions stored at ``path`` for files with ``signature``, if they cover ``assets``.

    The names the traces looked up must still hold what they held (see :func:`_name_reads`).
    """
    try:
        data = json.loads(path.read_text())
        if data["key"] != _cache_key() or data["signature"] != signature:
            return None
        stored = data["versions"]
        versions = {a.name: stored[a.name] for a in assets}
        if len(stored) != len(versions) or not all(isinstance(v, str) for v in versions.values()):
            return None
        if all(tracer.holds(_as_read(read)) for read in data["reads"]):
            return versions
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _name_reads(
    cache: _Cache, reused: Iterable[str], computed: Mapping[str, tuple[str, Reads]]
) -> list[Read] | None:
    """The looked-up names all versions rest on (files aside), or None if one rests on more."""
    found: set[Read] = set()
    for name in reused:
        found.update(cache.reads_of(name))
    for _, reads in computed.values():
        found.update(reads)
    if UNTRACKED in found:
        return None
    return sorted(r for r in found if r[0] != "f")


def _identity(asset: Asset, tracer: Tracer) -> str:
    """A digest of how ``asset`` is declared: the part of its version that no read covers."""
    options = repr(asset.options.fingerprint_items())
    if asset.options.version is not None:
        declared = f"pinned\0{asset.options.version}"
    elif asset.kind == "sql":
        declared = f"sql\0{asset.file}\0{asset.sql.tree}"
    else:
        assert isinstance(asset.fn, FunctionType), f"python asset {asset.name} has no function"
        # What the function captured or binds as defaults is in no read: part of how it is declared.
        declared = f"python\0{asset.file}\0{tracer.where(asset.fn)}"
        bound = tracer.bound_token(asset.fn, export_values(asset))
        if bound:
            declared += f"\0{bound}"
    return blake2b(f"{declared}\0{options}".encode(), digest_size=16).hexdigest()


class _Cache:
    """Each version with the reads it rests on, and the file signatures that vouch for them.

    On disk: ``{"key", "files": {path: [size, mtime_ns]}, "reads": [read, ...],
    "assets": {name: [identity, version, [read index, ...]]}}``; reads are
    shared by index because many assets read the same helpers. Entries are
    checked as they are used, so a damaged one only costs its recomputation.
    """

    def __init__(
        self,
        tracer: Tracer,
        reads: list[Any] | None = None,
        assets: dict[str, Any] | None = None,
        unchanged: frozenset[str] = frozenset(),
    ) -> None:
        self.tracer = tracer
        self.reads = reads or []
        self.assets = assets or {}
        self.unchanged = unchanged  # files whose signature is the one stored
        self._holds: dict[int, bool] = {}  # read index -> sees the same as when made

    @classmethod
    def load(cls, path: Path, files: Mapping[str, tuple[int, int]], tracer: Tracer) -> _Cache:
        """The cache at ``path``; an empty one if it is missing, unreadable or another version's."""
        try:
            data = json.loads(path.read_text())
            if data["key"] != _cache_key():
                return cls(tracer)
            stored = {rel: (size, mtime) for rel, (size, mtime) in data["files"].items()}
            reads, assets = list(data["reads"]), dict(data["assets"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(tracer)
        unchanged = frozenset(rel for rel, sig in stored.items() if files.get(rel) == sig)
        return cls(tracer, reads, assets, unchanged)

    def version(self, name: str, identity: str) -> str | None:
        """The stored version of ``name``, if declared the same way and all its reads hold."""
        try:
            stored, version, indexes = self.assets[name]
            if stored == identity and isinstance(version, str) and all(map(self._hold, indexes)):
                return version
        except (KeyError, TypeError, ValueError, IndexError):  # none, or a damaged one
            pass
        return None

    def _hold(self, i: int) -> bool:
        if i not in self._holds:
            if type(i) is not int or i < 0:
                raise TypeError("a read index is a natural number")
            read = _as_read(self.reads[i])
            file = read[0] != "f" or not read[3] or read[3] in self.unchanged
            self._holds[i] = file and self.tracer.holds(read)
        return self._holds[i]

    def reads_of(self, name: str) -> list[Read]:
        """The reads a reused entry rests on."""
        return [_as_read(self.reads[i]) for i in self.assets[name][2]]

    def save(
        self,
        path: Path,
        files: Mapping[str, tuple[int, int]],
        reused: Iterable[str],
        computed: Mapping[str, tuple[str, str, Reads]],
    ) -> None:
        """Write the ``reused`` entries and the ``computed`` ones whose reads are all known."""
        table: dict[Read, int] = {}
        assets = {}
        for name in reused:
            identity, version, indexes = self.assets[name]
            reads = [_as_read(self.reads[i]) for i in indexes]
            assets[name] = [identity, version, [table.setdefault(r, len(table)) for r in reads]]
        for name, (identity, version, found) in computed.items():
            if UNTRACKED not in found:
                reads = sorted(found)
                assets[name] = [identity, version, [table.setdefault(r, len(table)) for r in reads]]
        _write_json(
            path, {"key": _cache_key(), "files": files, "reads": list(table), "assets": assets}
        )


def _as_read(value: Any) -> Read:
    kind, module, name, seen = value
    "".join(value)  # raises TypeError unless all four are strings
    return kind, module, name, seen


def _write_json(path: Path, data: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only state folder only costs the recomputation


def _cache_key() -> str:
    # DuckDB's parse tree is what a SQL version hashes (see assetflow/sql_tree.py).
    from assetflow.project import library_versions

    return library_versions()


def short(version: str) -> str:
    """The first 7 hex characters of ``version``, for ``code changed (a1b2c3d → 9f8e7d6)``."""
    return version[:7]


def _hash(data: bytes, options: AssetOptions | None = None) -> str:
    h = blake2b(data, digest_size=16)
    for item in options.fingerprint_items() if options is not None else ():
        h.update(b"\0" + repr(item).encode())
    return h.hexdigest()
