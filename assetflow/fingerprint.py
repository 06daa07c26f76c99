"""Code versions: what an asset's code is, as a hash blind to comments and layout.

A Python asset's version hashes its function's syntax tree (docstring and
decorators dropped), the trees of the project-local helpers, classes and
module constants it references, followed transitively, and the options that
change its output. A SQL asset's hashes its normalized query and options.
``version="..."`` pins either. Code outside the project (libraries, the
standard library, builtins) is not followed: library versions are not tracked.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from types import CodeType, FunctionType, ModuleType

from assetflow.definition import Asset, AssetFunction, AssetOptions
from assetflow.graph import AssetGraph
from assetflow.sql import normalize_sql

_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_Chain = tuple[str, ...]  # a global name and the attributes read from it: ("_lib", "triple")
_NOTED = frozenset(
    {ast.Attribute, ast.arg, ast.Global, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef}
)
_SCALARS = (int, float, complex, str, bytes, bool, type(None))
_PLAIN_LIMIT = 10_000  # items; a larger imported value is not tracked


def code_versions(graph: AssetGraph, package: str) -> dict[str, str]:
    """Code version of every python and sql asset in graph (sources are skipped).

    Args:
        graph: The project's assets.
        package: The module prefix its Python files were imported under
            (``Project.package``); only modules under it are followed.
    """
    # Parsing makes hundreds of thousands of AST objects that all stay alive;
    # the collector's passes over them would cost more than the parse itself.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        tracer = _Tracer(package)
        versions = {}
        for a in graph:
            if a.kind == "source":
                continue
            if a.options.version is not None:
                versions[a.name] = _hash(b"pinned:" + a.options.version.encode())
            elif a.kind == "sql":
                versions[a.name] = _hash(b"sql\0" + normalize_sql(a.sql.query).encode(), a.options)
            else:
                versions[a.name] = tracer.version(a)
        return versions
    finally:
        if was_enabled:
            gc.enable()


CACHE_FILE = "code_versions.json"


def cached_code_versions(
    graph: AssetGraph, package: str, *, assets_dir: Path, cache_dir: Path
) -> dict[str, str]:
    """:func:`code_versions`, reused from the last call while no source file changed.

    Code versions depend only on the files under the assets folder, so a
    signature of their paths, sizes and modification times (private helper
    modules included) stands for all of them: a no-op run parses nothing.
    """
    signature = source_signature(assets_dir)
    path = cache_dir / CACHE_FILE
    try:
        cached = json.loads(path.read_text())
        if cached.get("signature") == signature and set(cached["versions"]) == {
            a.name for a in graph if a.kind != "source"
        }:
            return dict(cached["versions"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    versions = code_versions(graph, package)
    if not cache_dir.parent.is_dir():
        return versions  # no state folder yet: reading a project must not create one
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"signature": signature, "versions": versions}))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only state folder only costs the recomputation
    return versions


def source_signature(assets_dir: Path) -> str:
    """A digest of every .py and .sql file's path, size and mtime under ``assets_dir``."""
    from assetflow import __version__

    h = blake2b(f"{__version__}|{sys.version_info[:2]}".encode(), digest_size=16)
    for dirpath, dirnames, filenames in os.walk(assets_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith((".py", ".sql")):
                full = os.path.join(dirpath, name)
                st = os.stat(full)
                h.update(f"{full}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


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


@dataclass(slots=True)
class _Index:
    """A module's top-level statements, by the names they bind."""

    defs: dict[str, _Def] = field(default_factory=dict)
    by_line: dict[int, _Def] = field(default_factory=dict)  # first line, decorators included
    assigns: dict[str, list[ast.stmt]] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # as -> (module, name)


class _Tracer:
    """The caches of one ``code_versions`` call: a file is parsed once, a definition dumped once."""

    def __init__(self, package: str) -> None:
        self.package = package
        self._indexes: dict[str, _Index | None] = {}
        self._names: dict[tuple[str, str], _Entry | None] = {}
        self._objects: dict[int, _Entry | None] = {}

    def version(self, asset: Asset) -> str:
        # @asset takes plain functions only, so every python asset has one.
        assert isinstance(asset.fn, FunctionType), f"python asset {asset.name} has no function"
        root = self._definition(asset.fn)
        assert root is not None
        found = {(root.key, root.digest): root}
        todo = [root]
        while todo:  # a visited set, not recursion: helpers may call each other
            entry = todo.pop()
            if entry.deps is None:
                resolved = (self._resolve(entry.module, chain) for chain in entry.refs)
                entry.deps = [d for d in resolved if d is not None]
            for dep in entry.deps:
                if (dep.key, dep.digest) not in found:
                    found[dep.key, dep.digest] = dep
                    todo.append(dep)
        del found[root.key, root.digest]
        parts = [b"python\0", root.digest, *(found[k].digest for k in sorted(found))]
        return _hash(b"".join(parts), asset.options)

    def _local(self, module: object) -> bool:
        package = self.package
        return isinstance(module, str) and (module == package or module.startswith(package + "."))

    def _resolve(self, module: str, chain: _Chain) -> _Entry | None:
        """What ``a.b.c`` names in ``module``, reading attributes of project modules."""
        name = chain[0]
        for attr in chain[1:]:
            value = _namespace(module).get(name)
            if not (isinstance(value, ModuleType) and self._local(value.__name__)):
                break
            module, name = value.__name__, attr
        key = (module, name)
        if key not in self._names:
            self._names[key] = None  # a cycle of imports resolves to nothing
            self._names[key] = self._lookup(module, name)
        return self._names[key]

    def _lookup(self, module: str, name: str) -> _Entry | None:
        ns = _namespace(module)
        if name not in ns or (name.startswith("__") and name.endswith("__")):
            return None
        value = ns[name]
        value = _unwrap(value.fn if isinstance(value, AssetFunction) else value)
        if (
            isinstance(value, FunctionType | type)
            and self._local(value.__module__)
            and value.__qualname__ == value.__name__  # top level, so its node can be found
        ):
            return self._definition(value)
        index = self._index(module)
        if index is not None and name in index.assigns:
            return self._entry(module, name, index.assigns[name])
        if index is not None and name in index.imports:
            origin, original = index.imports[name]
            return self._resolve(origin, (original,)) if self._local(origin) else None
        text = _plain_repr(value)  # a value set some other way, or star-imported
        return None if text is None else self._entry(module, name, (), text)

    def _definition(self, obj: FunctionType | type) -> _Entry | None:
        """The entry of a top-level function or class, once per object."""
        if id(obj) in self._objects:
            return self._objects[id(obj)]
        module, name = obj.__module__, obj.__name__
        index = self._index(module)
        code = getattr(obj, "__code__", None)
        node = index.by_line.get(code.co_firstlineno) if index and code else None
        if index is not None and (node is None or node.name != name):
            node = index.defs.get(name)
        entry = None
        if node is not None:
            if isinstance(_namespace(module).get(name), AssetFunction):
                # Options are not code; the ones that change the output come in
                # through fingerprint_items().
                node.decorator_list = []
            entry = self._entry(module, name, (node,))
        elif code is not None:  # no source to parse: the bytecode is the next best thing
            entry = self._entry(module, name, (), _code_text(code))
        self._objects[id(obj)] = entry
        return entry

    def _entry(self, module: str, name: str, nodes: Iterable[ast.AST], text: str = "") -> _Entry:
        refs: set[_Chain] = set()
        dumps = [text]
        for node in nodes:
            dump, node_refs = _normalize(node)
            dumps.append(dump)
            refs |= node_refs
        key = f"{module[len(self.package) :].lstrip('.')}:{name}"
        digest = blake2b("\0".join([key, *dumps]).encode(), digest_size=16).digest()
        return _Entry(key, digest, module, frozenset(refs))

    def _index(self, module: str) -> _Index | None:
        if module not in self._indexes:
            self._indexes[module] = _build_index(sys.modules.get(module))
        return self._indexes[module]


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
