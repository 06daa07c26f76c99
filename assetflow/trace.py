"""Tracing a Python asset's code: every definition and value its version rests on.

The trace starts at the asset's function and follows each module name it
reads (:mod:`assetflow.code_tree` decides which names those are) to the
statements that bind it in the project's modules: a ``def`` or ``class``, an
assignment (a lambda, a ``functools.partial``, an instance, a constant), an
import from another project module, a star import. What those statements read
is followed in turn. Code outside the project is not followed.

A module name that holds data (anything but a module, or a project function or
class that has a ``def``) is also described by value (:mod:`assetflow.values`):
the version changes when the value does, even where no statement of the
project shows the change (a value computed at import time). A value with no
exact description (an open client, say) is described by its type and its
``repr``, and the asset's trace carries a note naming it, for ``status --why``
and ``check --definitions`` to suggest ``version=``.

Every lookup in a module's namespace and every parse goes through
:meth:`Tracer._read` and :meth:`Tracer._index`, which say what they saw as a
``Read``; a result is cached together with the reads it took, so each asset's
version comes with all the reads it rests on, even those an earlier asset's
trace made (:mod:`assetflow.fingerprint` keeps versions by their reads).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from hashlib import blake2b
from types import CodeType, FunctionType, ModuleType

from assetflow.code_tree import FROM_IMPORT, normalize
from assetflow.definition import Asset, AssetFunction
from assetflow.values import describe_value

_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_Chain = tuple[str, ...]

# What a version rests on: (kind, module without the package prefix, name, what was seen).
# "f": the file parsed for the module (relative to the assets folder), "n": the
# token of a module-level name, "p": a digest of the description of a name's value.
Read = tuple[str, str, str, str]
Reads = frozenset[Read]
UNTRACKED: Read = ("?", "", "", "")  # rests on something no read describes: never reused
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Traced:
    """An asset's code version digest input, the reads it rests on, and its notes."""

    parts: bytes
    reads: Reads
    notes: tuple[str, ...]  # values described inexactly, for status --why


def _code_names(code: CodeType) -> Iterator[str]:
    """Every name a function's bytecode (and that of the functions it nests) looks up."""
    yield from code.co_names
    for c in code.co_consts:
        if isinstance(c, CodeType):
            yield from _code_names(c)


@dataclass(slots=True, eq=False)
class _Entry:
    """One definition an asset's code depends on: its digest and what it references."""

    key: str  # "staging.orders:_clean": the module without the per-load package prefix
    digest: bytes
    module: str
    refs: frozenset[_Chain]
    objects: tuple[object, ...] = ()  # functions and classes its value holds
    notes: tuple[str, ...] = ()  # its value, if described inexactly
    statements: _Entry | None = None  # what made a value described inexactly
    deps: list[_Entry] | None = None  # refs resolved, on first use
    dep_reads: Reads = frozenset()  # the reads resolving them took


_Found = tuple[_Entry | None, Reads]  # what a name or object resolved to, and its reads


@dataclass(slots=True)
class _Index:
    """A module's top-level statements, by the names they bind.

    A name bound inside a top-level ``if``, ``try``, ``with`` or loop is bound
    by that whole statement: its condition is part of the value.
    """

    defs: dict[str, _Def] = field(default_factory=dict)
    by_line: dict[int, _Def] = field(default_factory=dict)  # first line, decorators included
    blocks: dict[int, ast.stmt] = field(default_factory=dict)  # id(def) -> its top statement
    assigns: dict[str, list[ast.stmt]] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # as -> (module, name)
    stars: list[str] = field(default_factory=list)  # modules star-imported, in order


class Tracer:
    """The caches of one code-versions call: a file is parsed once, a definition dumped once."""

    def __init__(self, package: str, files_root: str = "") -> None:
        self.package = package
        self.files_root = files_root  # module files are named relative to it in reads
        self._prefix = package + "."
        self._indexes: dict[str, tuple[_Index | None, Read]] = {}
        self._names: dict[tuple[str, str], _Found] = {}
        self._objects: dict[int, _Found] = {}

    def trace(self, asset: Asset) -> Traced:
        """What ``asset``'s function and everything it references hash to, with their reads."""
        # @asset takes plain functions only, so every python asset has one.
        assert isinstance(asset.fn, FunctionType), f"python asset {asset.name} has no function"
        fn = _unwrap(asset.fn)
        assert isinstance(fn, FunctionType), f"python asset {asset.name} has no function"
        root, root_reads = self._definition(fn, asset=True)
        assert root is not None
        reads = set(root_reads)
        found = {(root.key, root.digest): root}
        todo = [root]
        bound = self._bound_entry(fn, export_values(asset))
        if bound is not None:  # defaults and captured variables: not in any statement
            found[bound.key, bound.digest] = bound
            todo.append(bound)
        notes: set[str] = set()
        while todo:  # a visited set, not recursion: helpers may call each other
            entry = todo.pop()
            notes.update(entry.notes)
            if entry.deps is None:
                entry.deps, entry.dep_reads = self._deps(entry)
            reads |= entry.dep_reads
            for dep in entry.deps:
                if (dep.key, dep.digest) not in found:
                    found[dep.key, dep.digest] = dep
                    todo.append(dep)
        del found[root.key, root.digest]
        parts = b"".join([b"python\0", root.digest, *(found[k].digest for k in sorted(found))])
        return Traced(parts, frozenset(reads), tuple(sorted(notes)))

    def bound_token(self, fn: FunctionType, extra: Mapping[str, object] | None = None) -> str:
        """A digest of the values bound to ``fn`` (see :func:`bound_values`); ``""`` if none.

        ``extra``: more values bound to the asset, such as its exports' writers.
        """
        target = _unwrap(fn)
        values = bound_values(target) if isinstance(target, FunctionType) else {}
        if extra:
            values = {**values, **extra}
        if not values:
            return ""
        return blake2b(
            describe_value(values, self._local).text.encode(), digest_size=16
        ).hexdigest()

    def _bound_entry(self, fn: FunctionType, extra: Mapping[str, object]) -> _Entry | None:
        """The entry of the values bound to an asset's function, described like module values."""
        values = {**bound_values(fn), **extra} if extra else bound_values(fn)
        if not values:
            return None
        described = describe_value(values, self._local)
        entry = self._entry(fn.__module__, f"{fn.__qualname__}()", [], described.text)
        entry.objects = described.code
        inexact = [k for k, v in values.items() if not describe_value(v, self._local).exact]
        entry.notes = tuple(self._bound_note(fn, k, values[k]) for k in inexact)
        return entry

    def _bound_note(self, fn: FunctionType, key: str, value: object) -> str:
        kind, _, name = key.partition(" ")
        t = type(value)
        owner = self._key(t.__module__) if self._local(t.__module__) else t.__module__
        type_name = t.__qualname__ if owner == "builtins" else f"{owner}.{t.__qualname__}"
        if kind == "param":
            return f"default of {fn.__qualname__}'s parameter {name} (a {type_name})"
        if kind == "export":
            return f"writer or options of the export {name} (a {type_name})"
        return f"value {fn.__qualname__} captured as {name} (a {type_name})"

    def where(self, fn: FunctionType | type) -> str:
        """Where ``fn`` is defined, as its trace finds it: module, name and first line."""
        line = _first_line(fn)
        return f"{self._key(fn.__module__)}:{fn.__name__}:{'' if line is None else line}"

    def token(self, value: object) -> str:
        """All that tracing uses of a module-level value, apart from its description.

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

    def holds(self, read: Read) -> bool:
        """Whether ``read`` sees now what it saw when it was made (file contents aside)."""
        kind, key, name, seen = read
        module = f"{self.package}.{key}" if key else self.package
        if module not in sys.modules:
            # A module only a function imports (when it runs): the trace imported it.
            with contextlib.suppress(Exception):
                importlib.import_module(module)
        if kind == "f":
            return self._file_name(sys.modules.get(module)) == seen
        value = _namespace(module).get(name, _MISSING)
        if kind == "n":
            return self.token(value) == seen
        if kind == "p":
            return value is not _MISSING and self._value_token(_target(value)) == seen
        return False  # UNTRACKED

    def _value_token(self, value: object) -> str:
        text = describe_value(value, self._local).text
        return blake2b(text.encode(), digest_size=16).hexdigest()

    def _local(self, module: object) -> bool:
        return isinstance(module, str) and (
            module.startswith(self._prefix) or module == self.package
        )

    def _key(self, module: str) -> str:
        """``module`` without the per-load package prefix (for project modules)."""
        return module[len(self._prefix) :]

    def _traceable(self, value: object) -> bool:
        """A project function or class with a ``def`` at the top level of its module."""
        return (
            isinstance(value, FunctionType | type)
            and self._local(value.__module__)
            and value.__qualname__ == value.__name__
            and value.__name__ != "<lambda>"
        )

    def _read(self, module: str, name: str) -> tuple[object, Read]:
        value = _namespace(module).get(name, _MISSING)
        return value, ("n", self._key(module), name, self.token(value))

    def _deps(self, entry: _Entry) -> tuple[list[_Entry], Reads]:
        deps: list[_Entry] = []
        reads: set[Read] = set()
        for chain in entry.refs:
            if chain[0] == FROM_IMPORT:
                dep, dep_reads = self._resolve_import(entry.module, chain)
            else:
                dep, dep_reads = self._resolve(entry.module, chain)
            reads |= dep_reads
            if dep is not None:
                deps.append(dep)
        for obj in entry.objects:
            dep, dep_reads = self._object(obj)
            reads |= dep_reads
            if dep is not None:
                deps.append(dep)
        if entry.statements is not None:
            deps.append(entry.statements)
        return deps, frozenset(reads)

    def _resolve_import(self, module: str, chain: _Chain) -> _Found:
        """``from X import y`` made inside a function of ``module``, then ``y.a.b``."""
        _, relative, name, *attributes = chain
        mod = sys.modules.get(module)
        package = getattr(mod, "__package__", None) or module.rpartition(".")[0]
        try:
            origin = importlib.util.resolve_name(relative, package)
        except (ImportError, ValueError):
            return None, frozenset()
        if not self._local(origin):
            return None, frozenset()
        if origin not in sys.modules:
            # The function imports it when it runs; the trace needs it now.
            try:
                importlib.import_module(origin)
            except Exception:  # the run will fail on it too; until then, trust nothing
                return None, frozenset({UNTRACKED})
        if f"{origin}.{name}" not in sys.modules and name not in _namespace(origin):
            with contextlib.suppress(Exception):  # `from . import _lib` names a module
                importlib.import_module(f"{origin}.{name}")
        if f"{origin}.{name}" in sys.modules:  # `from . import _lib`: a module
            if not attributes:
                return None, frozenset()
            return self._resolve(f"{origin}.{name}", tuple(attributes))
        return self._resolve(origin, (name, *attributes))

    def _resolve(self, module: str, chain: _Chain) -> _Found:
        """What ``a.b.c`` names in ``module``, reading attributes of project modules."""
        reads: set[Read] = set()
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
            self._names[key] = (None, frozenset({UNTRACKED}))
            self._names[key] = self._lookup(module, name)
        entry, found_reads = self._names[key]
        return entry, found_reads | reads

    def _lookup(self, module: str, name: str) -> _Found:
        """The statements that bind ``name`` in ``module``, and its value if it is data."""
        if name.startswith("__") and name.endswith("__"):
            return None, frozenset()
        value, read = self._read(module, name)
        if value is _MISSING:
            return None, frozenset({read})
        target = _target(value)
        if self._traceable(target):
            assert isinstance(target, FunctionType | type)
            entry, definition_reads = self._definition(target)
            return entry, definition_reads | {read}
        if isinstance(target, ModuleType):
            return None, frozenset({read})  # its attributes are followed as chains
        described = describe_value(target, self._local)
        token = blake2b(described.text.encode(), digest_size=16).hexdigest()
        reads = {read, ("p", self._key(module), name, token)}
        if described.exact:
            # The value says all there is: how it was computed does not matter.
            entry = self._entry(module, name, [], described.text)
            entry.objects = described.code
            return entry, frozenset(reads)
        # Described by type and repr only: the statements that made it count too.
        found, statement_reads = self._statements(module, name, value)
        entry = self._entry(module, name, [], described.text)
        entry.objects = described.code
        entry.notes = (self._note(module, name, target),)
        entry.statements = found
        return entry, frozenset(reads | statement_reads)

    def _statements(self, module: str, name: str, value: object) -> _Found:
        """The entry of the statements that bind ``name`` in ``module`` (following imports)."""
        index, file_read = self._index(module)
        reads = {file_read}
        if index is None:
            return None, frozenset(reads)
        if name in index.imports and name not in index.assigns:
            origin, original = index.imports[name]
            if not self._local(origin):
                return None, frozenset(reads)  # a library's value: libraries are not tracked
            entry, origin_reads = self._resolve_statements(origin, original)
            return entry, origin_reads | reads
        nodes = list(index.assigns.get(name, ()))
        if name in index.defs:
            top = index.blocks.get(id(index.defs[name]), index.defs[name])
            nodes += [] if any(n is top for n in nodes) else [top]
        if not nodes:
            star = self._star_origin(index, name, value)
            if star is not None:
                entry, origin_reads = self._resolve_statements(star, name)
                return entry, origin_reads | reads
            return None, frozenset(reads)
        return self._entry(module, f"{name}=", nodes), frozenset(reads)

    def _resolve_statements(self, module: str, name: str) -> _Found:
        key = (module, f"{name}=")
        if key not in self._names:
            self._names[key] = (None, frozenset({UNTRACKED}))  # a cycle of imports
            value = _namespace(module).get(name, _MISSING)
            self._names[key] = self._statements(module, name, value)
        return self._names[key]

    def _star_origin(self, index: _Index, name: str, value: object) -> str | None:
        """The project module a star import took ``name`` from, if one holds the same value."""
        for origin in reversed(index.stars):  # a later star import wins
            if self._local(origin) and _namespace(origin).get(name, _MISSING) is value:
                return origin
        return None

    def _note(self, module: str, name: str, value: object) -> str:
        key = self._key(module)
        where = f"{key}.{name}" if key else name
        t = type(value)
        owner = self._key(t.__module__) if self._local(t.__module__) else t.__module__
        kind = t.__qualname__ if owner == "builtins" else f"{owner}.{t.__qualname__}"
        return f"module value {where} (a {kind})"

    def _definition(self, obj: FunctionType | type, *, asset: bool = False) -> _Found:
        """The entry of a top-level function or class, once per object."""
        if id(obj) in self._objects:
            return self._objects[id(obj)]
        if isinstance(obj, FunctionType) and obj.__qualname__ != obj.__name__:
            self._objects[id(obj)] = self._enclosing(obj)
            return self._objects[id(obj)]
        module, name = obj.__module__, obj.__name__
        index, file_read = self._index(module)
        value, read = self._read(module, name)
        reads = {file_read, read}
        line = _first_line(obj)
        node = index.by_line.get(line) if index and line is not None else None
        if index is not None and (node is None or node.name != name):
            node = index.defs.get(name)
        if node is None:
            # No source to parse: the bytecode is the next best thing, and no file vouches
            # for it, so it is recomputed every time.
            entry, object_reads = self._object(obj, named=False)
            found: _Found = (entry, frozenset(reads | object_reads | {UNTRACKED}))
        else:
            # @asset's options are not code; the ones that change the output come in
            # through fingerprint_items(). Other decorators are code like any.
            keep = _not_asset_decorator if asset or isinstance(value, AssetFunction) else None
            top = index.blocks.get(id(node), node) if index is not None else node
            entry = self._entry(module, name, [top], keep=keep if top is node else None)
            found = (entry, frozenset(reads))
        self._objects[id(obj)] = found
        return found

    def _enclosing(self, fn: FunctionType) -> _Found:
        """A function made inside another (an asset factory's): the top-level ``def`` holding it.

        Its own code is part of that definition's tree; what it captured from the call
        is in its bound values. A function with no such ``def`` (a lambda in a
        comprehension, a method) is described by its bytecode, recomputed every time.
        """
        outer = fn.__qualname__.partition(".")[0]
        value, read = self._read(fn.__module__, outer)
        target = _target(value)
        if (
            isinstance(target, FunctionType)
            and self._traceable(target)
            and _nests(target.__code__, fn.__code__)
        ):
            entry, reads = self._definition(target)
            return entry, reads | {read}
        entry, reads = self._object(fn, named=False)
        return entry, reads | {read, UNTRACKED}

    def _object(self, obj: object, *, named: bool = True) -> _Found:
        """The entry of a function or class held in a value (or with no source to parse)."""
        if named and self._traceable(obj):
            assert isinstance(obj, FunctionType | type)
            return self._definition(obj)
        if not isinstance(obj, FunctionType | type) or not self._local(obj.__module__):
            return None, frozenset()
        key = ("\0object", str(id(obj)))
        if key in self._names:
            return self._names[key]
        self._names[key] = (None, frozenset({UNTRACKED}))  # a value that holds itself
        described = describe_value(obj, self._local)
        refs: frozenset[_Chain] = frozenset()
        if isinstance(obj, FunctionType):
            # No statement to parse: what its bytecode names is what it may read.
            refs = frozenset((n,) for n in _code_names(obj.__code__))
        entry = self._entry(obj.__module__, getattr(obj, "__qualname__", "?"), [], described.text)
        entry.refs = refs
        entry.objects = tuple(o for o in described.code if o is not obj)
        self._names[key] = (entry, frozenset())
        return self._names[key]

    def _entry(
        self,
        module: str,
        name: str,
        nodes: Iterable[ast.AST],
        text: str = "",
        keep: Callable[[ast.expr], bool] | None = None,
    ) -> _Entry:
        refs: set[_Chain] = set()
        dumps = [text]
        for node in nodes:
            dump, node_refs = normalize(node, keep_decorator=keep)
            dumps.append(dump)
            refs |= node_refs
        key = f"{self._key(module)}:{name}"
        digest = blake2b("\0".join([key, *dumps]).encode(), digest_size=16).digest()
        return _Entry(key, digest, module, frozenset(refs))

    def _index(self, module: str) -> tuple[_Index | None, Read]:
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


def bound_values(fn: FunctionType) -> dict[str, object]:
    """The values bound to a function object rather than read by name when it runs.

    Parameter defaults (an asset's constants, a partial's bound arguments) and
    the variables it captured from the function that made it (a factory's
    arguments). Keys are ``"param NAME"`` and ``"captured NAME"``.

    Example:
        >>> def make(col):
        ...     def extract(table, limit=10):
        ...         return table[col][:limit]
        ...     return extract
        >>> bound_values(make("age"))
        {'param limit': 10, 'captured col': 'age'}
    """
    code = fn.__code__
    values: dict[str, object] = {}
    positional = code.co_varnames[: code.co_argcount]
    for name, value in zip(
        positional[len(positional) - len(fn.__defaults__ or ()) :],
        fn.__defaults__ or (),
        strict=True,
    ):
        values[f"param {name}"] = value
    for name, value in (fn.__kwdefaults__ or {}).items():
        values[f"param {name}"] = value
    for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
        with contextlib.suppress(ValueError):  # an empty cell holds nothing yet
            values[f"captured {name}"] = cell.cell_contents
    return values


def export_values(asset: Asset) -> dict[str, object]:
    """An asset's exports as bound values: their writers are followed like helpers."""
    return {f"export {e.path}": (e.writer, dict(e.options)) for e in asset.options.exports}


def _nests(outer: CodeType, inner: CodeType) -> bool:
    """Whether ``inner`` is the code of a function defined (at any depth) inside ``outer``."""
    for c in outer.co_consts:
        if isinstance(c, CodeType) and (c is inner or _nests(c, inner)):
            return True
    return False


def _not_asset_decorator(decorator: ast.expr) -> bool:
    """Whether a decorator is not ``@asset`` / ``@asset(...)`` / ``@x.asset(...)``."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return name != "asset"


def _first_line(obj: object) -> int | None:
    code = getattr(obj, "__code__", None)
    return code.co_firstlineno if isinstance(code, CodeType) else None


def _target(value: object) -> object:
    """What tracing follows for a module-level value: an asset's function, unwrapped."""
    return _unwrap(value.fn if isinstance(value, AssetFunction) else value)


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
        _index_statement(index, stmt, stmt, package)
    return index


def _index_statement(index: _Index, stmt: ast.stmt, top: ast.stmt, package: str) -> None:
    """Record what ``stmt`` binds at module level; ``top`` is the top-level statement it is in."""
    if isinstance(stmt, _Def):
        index.defs[stmt.name] = stmt
        first = stmt.decorator_list[0] if stmt.decorator_list else stmt
        index.by_line[first.lineno] = stmt
        if top is not stmt:
            index.blocks[id(stmt)] = top
            index.assigns.setdefault(stmt.name, []).append(top)
        return
    if isinstance(stmt, ast.ImportFrom):
        try:
            origin = importlib.util.resolve_name("." * stmt.level + (stmt.module or ""), package)
        except (ImportError, ValueError):
            return
        for alias in stmt.names:
            if alias.name == "*":
                index.stars.append(origin)
            elif top is stmt:
                index.imports[alias.asname or alias.name] = (origin, alias.name)
            else:  # an import chosen at run time (try/except ImportError): the block decides
                index.assigns.setdefault(alias.asname or alias.name, []).append(top)
        return
    if isinstance(stmt, ast.Import):
        return  # a module: its attributes are followed as chains
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif (
        isinstance(stmt, ast.AugAssign | ast.AnnAssign)
        and (not isinstance(stmt, ast.AnnAssign) or stmt.value is not None)
    ) or isinstance(stmt, ast.For | ast.AsyncFor):
        targets = [stmt.target]
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
    for n in (n for target in targets for n in ast.walk(target)):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            index.assigns.setdefault(n.id, []).append(top)
    for n in ast.walk(stmt) if targets or _is_block(stmt) else ():
        if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name):
            index.assigns.setdefault(n.target.id, []).append(top)
    if _is_block(stmt):
        for child in _block_statements(stmt):
            _index_statement(index, child, top, package)


_BLOCKS = (ast.If, ast.Try, ast.TryStar, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)


def _is_block(stmt: ast.stmt) -> bool:
    return isinstance(stmt, _BLOCKS) or type(stmt) is ast.Match


def _block_statements(stmt: ast.stmt) -> Iterator[ast.stmt]:
    for name in ("body", "orelse", "finalbody"):
        yield from getattr(stmt, name, ())
    for handler in getattr(stmt, "handlers", ()):
        yield from handler.body
    for case in getattr(stmt, "cases", ()):
        yield from case.body


def _unwrap(value: object) -> object:
    """``value`` without ``functools.wraps`` layers (``lru_cache`` on a helper, say)."""
    if not hasattr(value, "__wrapped__"):  # the common case, without unwrap's overhead
        return value
    try:
        return inspect.unwrap(value) if callable(value) else value
    except ValueError:  # a wrapper loop
        return value
