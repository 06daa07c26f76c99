"""Code versions: what an asset's code is, as a hash blind to comments and layout.

A Python asset's version hashes its function's syntax tree (docstring and
decorators dropped), the trees of the project-local helpers, classes and
module constants it references, followed transitively, and the options that
change its output. A SQL asset's hashes its normalized query and options.
``version="..."`` pins either. Code outside the project (libraries, the
standard library, builtins) is not followed: library versions are not tracked.

Tracing a Python asset records every read its version rests on: which
project file was parsed for a module, and what each looked-up module-level
name held (see ``_Tracer.token``). :func:`cached_code_versions` keeps each
version with its reads and reuses it while every read sees the same thing.

Example:
    >>> short("a1b2c3d4e5f60718293a4b5c6d7e8f90")
    'a1b2c3d'
"""

from __future__ import annotations

import ast
import gc
import importlib.util
import inspect
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import Any

from assetflow.definition import Asset, AssetFunction, AssetOptions
from assetflow.graph import AssetGraph

_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_Chain = tuple[str, ...]  # a global name and the attributes read from it: ("_lib", "triple")
_NOTED = frozenset(
    {ast.Attribute, ast.arg, ast.Global, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef}
)
_SCALARS = (int, float, complex, str, bytes, bool, type(None))
_PLAIN_LIMIT = 10_000  # items; a larger imported value is not tracked

# What a version rests on: (kind, module without the package prefix, name, what was seen).
# "f": the file parsed for the module (relative to the assets folder), "n": the
# token of a module-level name, "p": a digest of the plain value of a name.
_Read = tuple[str, str, str, str]
_Reads = frozenset[_Read]
_UNTRACKED: _Read = ("?", "", "", "")  # rests on something no read describes: never reused
_MISSING = object()


def code_versions(graph: AssetGraph, package: str) -> dict[str, str]:
    """Code version of every python and sql asset in graph (sources are skipped).

    Args:
        graph: The project's assets.
        package: The module prefix its Python files were imported under
            (``Project.package``); only modules under it are followed.
    """
    assets = [a for a in graph if a.kind != "source"]
    return {name: version for name, (version, _) in _trace(assets, _Tracer(package)).items()}


def _trace(assets: Iterable[Asset], tracer: _Tracer) -> dict[str, tuple[str, _Reads]]:
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


def _version(asset: Asset, tracer: _Tracer) -> tuple[str, _Reads]:
    if asset.options.version is not None:
        return _hash(b"pinned:" + asset.options.version.encode()), frozenset()
    if asset.kind == "sql":
        # DuckDB's parse tree, digested at load: see assetflow/sql_tree.py.
        return _hash(b"sql\0" + asset.sql.tree.encode(), asset.options), frozenset()
    return tracer.version(asset)


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
    ``os.walk``: the files stand for everything the versions depend on, apart
    from run-time state such as an import chosen by an environment variable.

    After an edit, each version is reused while its asset is declared the same
    way (file, function, line, output options), every module-level name its
    trace looked up holds the same kind of thing (the same helper, a plain
    value with the same repr), and every project file it parsed is unchanged.
    A SQL version is reused for the same query and options. So an edit
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
    signature = _signature(files)
    assets = [a for a in graph if a.kind != "source"]
    versions = _versions_for(cache_dir / CACHE_FILE, signature, assets)
    if versions is not None:
        return versions
    tracer = _Tracer(package, files_root=f"{assets_dir}{os.sep}")
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
            vouched = signature if len(stable) == len(files) else None
            _write_json(
                cache_dir / CACHE_FILE,
                {"key": _cache_key(), "signature": vouched, "versions": versions},
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


def _signature(files: Mapping[str, tuple[int, int]]) -> str:
    h = blake2b(_cache_key().encode(), digest_size=16)
    for rel, (size, mtime) in files.items():
        h.update(f"{rel}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()


def _versions_for(path: Path, signature: str, assets: list[Asset]) -> dict[str, str] | None:
    """The versions stored at ``path`` for files with ``signature``, if they cover ``assets``."""
    try:
        data = json.loads(path.read_text())
        if data["key"] != _cache_key() or data["signature"] != signature:
            return None
        stored = data["versions"]
        versions = {a.name: stored[a.name] for a in assets}
        if len(stored) == len(versions) and all(isinstance(v, str) for v in versions.values()):
            return versions
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _identity(asset: Asset, tracer: _Tracer) -> str:
    """A digest of how ``asset`` is declared: the part of its version that no read covers."""
    options = repr(asset.options.fingerprint_items())
    if asset.options.version is not None:
        declared = f"pinned\0{asset.options.version}"
    elif asset.kind == "sql":
        declared = f"sql\0{asset.file}\0{asset.sql.tree}"
    else:
        assert isinstance(asset.fn, FunctionType), f"python asset {asset.name} has no function"
        declared = f"python\0{asset.file}\0{tracer.where(asset.fn)}"
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
        tracer: _Tracer,
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
    def load(cls, path: Path, files: Mapping[str, tuple[int, int]], tracer: _Tracer) -> _Cache:
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

    def save(
        self,
        path: Path,
        files: Mapping[str, tuple[int, int]],
        reused: Iterable[str],
        computed: Mapping[str, tuple[str, str, _Reads]],
    ) -> None:
        """Write the ``reused`` entries and the ``computed`` ones whose reads are all known."""
        table: dict[_Read, int] = {}
        assets = {}
        for name in reused:
            identity, version, indexes = self.assets[name]
            reads = [_as_read(self.reads[i]) for i in indexes]
            assets[name] = [identity, version, [table.setdefault(r, len(table)) for r in reads]]
        for name, (identity, version, found) in computed.items():
            if _UNTRACKED not in found:
                reads = sorted(found)
                assets[name] = [identity, version, [table.setdefault(r, len(table)) for r in reads]]
        _write_json(
            path, {"key": _cache_key(), "files": files, "reads": list(table), "assets": assets}
        )


def _as_read(value: Any) -> _Read:
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
    from assetflow import __version__

    return f"{__version__}|{sys.version_info[:2]}"


def short(version: str) -> str:
    """The first 7 hex characters of ``version``, for ``code changed (a1b2c3d → 9f8e7d6)``."""
    return version[:7]


def _hash(data: bytes, options: AssetOptions | None = None) -> str:
    h = blake2b(data, digest_size=16)
    for item in options.fingerprint_items() if options is not None else ():
        h.update(b"\0" + repr(item).encode())
    return h.hexdigest()


@dataclass(slots=True, eq=False)
class _Entry:
    """One definition an asset's code depends on: its digest and what it references."""

    key: str  # "staging.orders:_clean": the module without the per-load package prefix
    digest: bytes
    module: str
    refs: frozenset[_Chain]
    deps: list[_Entry] | None = None  # refs resolved, on first use
    dep_reads: _Reads = frozenset()  # the reads resolving them took


_Found = tuple[_Entry | None, _Reads]  # what a name or object resolved to, and its reads


@dataclass(slots=True)
class _Index:
    """A module's top-level statements, by the names they bind."""

    defs: dict[str, _Def] = field(default_factory=dict)
    by_line: dict[int, _Def] = field(default_factory=dict)  # first line, decorators included
    assigns: dict[str, list[ast.stmt]] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # as -> (module, name)


class _Tracer:
    """The caches of one ``code_versions`` call: a file is parsed once, a definition dumped once.

    Every lookup in a module's namespace and every parse goes through
    :meth:`_read` and :meth:`_index`, which say what they saw as a ``_Read``;
    a result is cached together with the reads it took, so each asset's
    version comes with all the reads it rests on, even those an earlier
    asset's trace made.
    """

    def __init__(self, package: str, files_root: str = "") -> None:
        self.package = package
        self.files_root = files_root  # module files are named relative to it in reads
        self._prefix = package + "."
        self._indexes: dict[str, tuple[_Index | None, _Read]] = {}
        self._names: dict[tuple[str, str], _Found] = {}
        self._objects: dict[int, _Found] = {}

    def version(self, asset: Asset) -> tuple[str, _Reads]:
        # @asset takes plain functions only, so every python asset has one.
        assert isinstance(asset.fn, FunctionType), f"python asset {asset.name} has no function"
        root, root_reads = self._definition(asset.fn)
        assert root is not None
        reads = set(root_reads)
        found = {(root.key, root.digest): root}
        todo = [root]
        while todo:  # a visited set, not recursion: helpers may call each other
            entry = todo.pop()
            if entry.deps is None:
                entry.deps, entry.dep_reads = self._deps(entry)
            reads |= entry.dep_reads
            for dep in entry.deps:
                if (dep.key, dep.digest) not in found:
                    found[dep.key, dep.digest] = dep
                    todo.append(dep)
        del found[root.key, root.digest]
        parts = [b"python\0", root.digest, *(found[k].digest for k in sorted(found))]
        return _hash(b"".join(parts), asset.options), frozenset(reads)

    def where(self, fn: FunctionType | type) -> str:
        """Where ``fn`` is defined, as its trace finds it: module, name and first line."""
        line = _first_line(fn)
        return f"{self._key(fn.__module__)}:{fn.__name__}:{'' if line is None else line}"

    def token(self, value: object) -> str:
        """All that tracing uses of a module-level value, apart from its plain data.

        ``-`` for no such name; ``M`` and the module for a project module (``M~``
        for any other); ``D`` and :meth:`where` for a project function or class
        that tracing parses; ``V`` for anything else. ``A`` in front marks an
        ``@asset``, whose decorators a trace drops.
        """
        if value is _MISSING:
            return "-"
        if isinstance(value, ModuleType):
            local = self._local(value.__name__)
            return "M" + (self._key(value.__name__) if local else "~")
        prefix = "A" if isinstance(value, AssetFunction) else ""
        target = _target(value)
        if self._traceable(target):
            assert isinstance(target, FunctionType | type)
            return f"{prefix}D{self.where(target)}"
        return prefix + "V"

    def holds(self, read: _Read) -> bool:
        """Whether ``read`` sees now what it saw when it was made (file contents aside)."""
        kind, key, name, seen = read
        module = f"{self.package}.{key}" if key else self.package
        if kind == "f":
            return self._file_name(sys.modules.get(module)) == seen
        value = _namespace(module).get(name, _MISSING)
        if kind == "n":
            return self.token(value) == seen
        if kind == "p":
            return value is not _MISSING and _text_token(_plain_repr(_target(value))) == seen
        return False  # _UNTRACKED

    def _local(self, module: object) -> bool:
        return isinstance(module, str) and (
            module.startswith(self._prefix) or module == self.package
        )

    def _key(self, module: str) -> str:
        """``module`` without the per-load package prefix (for project modules)."""
        return module[len(self._prefix) :]

    def _traceable(self, value: object) -> bool:
        """A project function or class at the top level of its module, so its node can be found."""
        return (
            isinstance(value, FunctionType | type)
            and self._local(value.__module__)
            and value.__qualname__ == value.__name__
        )

    def _read(self, module: str, name: str) -> tuple[object, _Read]:
        value = _namespace(module).get(name, _MISSING)
        return value, ("n", self._key(module), name, self.token(value))

    def _deps(self, entry: _Entry) -> tuple[list[_Entry], _Reads]:
        deps: list[_Entry] = []
        reads: set[_Read] = set()
        for chain in entry.refs:
            dep, dep_reads = self._resolve(entry.module, chain)
            reads |= dep_reads
            if dep is not None:
                deps.append(dep)
        return deps, frozenset(reads)

    def _resolve(self, module: str, chain: _Chain) -> _Found:
        """What ``a.b.c`` names in ``module``, reading attributes of project modules."""
        reads: set[_Read] = set()
        name = chain[0]
        for attr in chain[1:]:
            value, read = self._read(module, name)
            reads.add(read)
            if not (isinstance(value, ModuleType) and self._local(value.__name__)):
                break
            module, name = value.__name__, attr
        key = (module, name)
        if key not in self._names:
            # A cycle of imports resolves to nothing, and what it rests on is unclear.
            self._names[key] = (None, frozenset({_UNTRACKED}))
            self._names[key] = self._lookup(module, name)
        entry, found_reads = self._names[key]
        return entry, found_reads | reads

    def _lookup(self, module: str, name: str) -> _Found:
        if name.startswith("__") and name.endswith("__"):
            return None, frozenset()
        value, read = self._read(module, name)
        if value is _MISSING:
            return None, frozenset({read})
        value = _target(value)
        if self._traceable(value):
            assert isinstance(value, FunctionType | type)
            entry, reads = self._definition(value)
            return entry, reads | {read}
        index, file_read = self._index(module)
        reads = frozenset({read, file_read})
        if index is not None and name in index.assigns:
            return self._entry(module, name, index.assigns[name]), reads
        if index is not None and name in index.imports:
            origin, original = index.imports[name]
            if not self._local(origin):
                return None, reads
            entry, origin_reads = self._resolve(origin, (original,))
            return entry, origin_reads | reads
        text = _plain_repr(value)  # a value set some other way, or star-imported
        reads |= {("p", self._key(module), name, _text_token(text))}
        return (None if text is None else self._entry(module, name, (), text)), reads

    def _definition(self, obj: FunctionType | type) -> _Found:
        """The entry of a top-level function or class, once per object."""
        if id(obj) in self._objects:
            return self._objects[id(obj)]
        module, name = obj.__module__, obj.__name__
        index, file_read = self._index(module)
        value, read = self._read(module, name)
        reads = {file_read, read}
        code = getattr(obj, "__code__", None)
        line = _first_line(obj)
        node = index.by_line.get(line) if index and line is not None else None
        if index is not None and (node is None or node.name != name):
            node = index.defs.get(name)
        entry = None
        if node is not None:
            if isinstance(value, AssetFunction):
                # Options are not code; the ones that change the output come in
                # through fingerprint_items().
                node.decorator_list = []
            entry = self._entry(module, name, (node,))
        elif code is not None:  # no source to parse: the bytecode is the next best thing
            entry = self._entry(module, name, (), _code_text(code))
            reads.add(_UNTRACKED)  # no file vouches for bytecode
        self._objects[id(obj)] = (entry, frozenset(reads))
        return self._objects[id(obj)]

    def _entry(self, module: str, name: str, nodes: Iterable[ast.AST], text: str = "") -> _Entry:
        refs: set[_Chain] = set()
        dumps = [text]
        for node in nodes:
            dump, node_refs = _normalize(node)
            dumps.append(dump)
            refs |= node_refs
        key = f"{self._key(module)}:{name}"
        digest = blake2b("\0".join([key, *dumps]).encode(), digest_size=16).digest()
        return _Entry(key, digest, module, frozenset(refs))

    def _index(self, module: str) -> tuple[_Index | None, _Read]:
        if module not in self._indexes:
            mod = sys.modules.get(module)
            read = ("f", self._key(module), "", self._file_name(mod))
            self._indexes[module] = (_build_index(mod), read)
        return self._indexes[module]

    def _file_name(self, module: ModuleType | None) -> str:
        """The module's file, relative to ``files_root`` if under it; ``""`` if it has none."""
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str):
            return ""
        root = self.files_root
        return filename[len(root) :] if root and filename.startswith(root) else filename


def _first_line(obj: object) -> int | None:
    code = getattr(obj, "__code__", None)
    return code.co_firstlineno if isinstance(code, CodeType) else None


def _target(value: object) -> object:
    """What tracing follows for a module-level value: an asset's function, unwrapped."""
    return _unwrap(value.fn if isinstance(value, AssetFunction) else value)


def _text_token(text: str | None) -> str:
    return "-" if text is None else blake2b(text.encode(), digest_size=16).hexdigest()


def _namespace(module: str) -> Mapping[str, object]:
    mod = sys.modules.get(module)
    return vars(mod) if mod is not None else {}


def _build_index(module: ModuleType | None) -> _Index | None:
    """Parse the module's file (the one place that parses) and index its top level."""
    filename = getattr(module, "__file__", None)
    if module is None or not filename:
        return None
    try:
        with open(filename, "rb") as f:
            tree = ast.parse(f.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return None
    index = _Index()
    package = module.__package__ or module.__name__.rpartition(".")[0]
    for stmt in tree.body:
        if isinstance(stmt, _Def):
            index.defs[stmt.name] = stmt
            first = stmt.decorator_list[0] if stmt.decorator_list else stmt
            index.by_line[first.lineno] = stmt
        elif isinstance(stmt, ast.Assign | ast.AugAssign) or (
            isinstance(stmt, ast.AnnAssign) and stmt.value is not None
        ):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for n in (n for target in targets for n in ast.walk(target)):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    index.assigns.setdefault(n.id, []).append(stmt)
        elif isinstance(stmt, ast.ImportFrom):
            try:
                origin = importlib.util.resolve_name(
                    "." * stmt.level + (stmt.module or ""), package
                )
            except (ImportError, ValueError):
                continue
            for alias in stmt.names:
                index.imports[alias.asname or alias.name] = (origin, alias.name)
    return index


def _normalize(node: ast.AST) -> tuple[str, set[_Chain]]:
    """The tree without positions, and the global names and attribute chains it reads.

    It holds what ``ast.dump(node, annotate_fields=False, include_attributes=False)``
    does, but one pass serves both jobs: 2.5 times faster than a dump plus a walk.
    Docstrings of the definitions in the tree are dropped on the way.
    """
    out: list[str] = []
    emit = out.append
    loads: set[_Chain] = set()
    local: set[str] = set()
    declared_global: set[str] = set()

    def visit(n: ast.AST) -> None:
        # type() checks, not isinstance: this runs for every node of every asset.
        if type(n) is ast.Name:
            if type(n.ctx) is ast.Load:
                loads.add((n.id,))
            else:
                local.add(n.id)
            emit(f"Name({n.id!r},{type(n.ctx).__name__})")
            return
        if type(n) is ast.Constant:
            emit(f"Constant({n.value!r},{n.kind!r})")
            return
        if type(n) in _NOTED:
            note(n)
        emit(type(n).__name__)
        for name in n._fields:
            v = getattr(n, name, None)
            if isinstance(v, ast.AST):
                visit(v)
            elif type(v) is list:
                emit("[")
                for item in v:
                    if isinstance(item, ast.AST):
                        visit(item)
                    else:
                        emit(repr(item))
                emit("]")
            else:
                emit(repr(v))
        emit(")")

    def note(n: ast.AST) -> None:
        if isinstance(n, ast.Attribute):
            chain = [n.attr]
            value = n.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name):
                loads.add((value.id, *reversed(chain)))
        elif isinstance(n, ast.arg):
            local.add(n.arg)
        elif isinstance(n, ast.Global):
            declared_global.update(n.names)
        elif isinstance(n, _Def) and n.body and isinstance(n.body[0], ast.Expr):
            first = n.body[0].value
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                n.body = n.body[1:]  # the docstring; the tree is this call's own

    visit(node)
    # Parameters and locals are not globals: a parameter named like an upstream
    # asset is that asset's data, not its code.
    local -= declared_global
    return "\0".join(out), {chain for chain in loads if chain[0] not in local}


def _unwrap(value: object) -> object:
    """``value`` without ``functools.wraps`` layers (``lru_cache`` on a helper, say)."""
    if not hasattr(value, "__wrapped__"):  # the common case, without unwrap's overhead
        return value
    try:
        return inspect.unwrap(value) if callable(value) else value
    except ValueError:  # a wrapper loop
        return value


def _code_text(code: CodeType) -> str:
    consts = (_code_text(c) if isinstance(c, CodeType) else repr(c) for c in code.co_consts)
    return f"code({code.co_code.hex()};{code.co_names};{code.co_varnames};{','.join(consts)})"


class _NotPlain(Exception):
    pass


def _plain_repr(value: object) -> str | None:
    """A deterministic repr of plain data (scalars and containers of them), else ``None``."""
    budget = [_PLAIN_LIMIT]

    def walk(v: object) -> str:
        budget[0] -= 1
        if budget[0] < 0:
            raise _NotPlain
        if type(v) in _SCALARS:
            return repr(v)
        if isinstance(v, tuple | list):
            return f"{type(v).__name__}({','.join(map(walk, v))})"
        if isinstance(v, set | frozenset):  # sorted: set order changes with the hash seed
            return f"{type(v).__name__}({','.join(sorted(map(walk, v)))})"
        if isinstance(v, dict):
            return "dict(" + ",".join(f"{walk(k)}:{walk(x)}" for k, x in v.items()) + ")"
        raise _NotPlain

    try:
        return walk(value)
    except _NotPlain:
        return None
