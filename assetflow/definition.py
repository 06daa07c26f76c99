"""Declaring assets and sources: ``@asset``, ``source`` and the ``Asset`` record.

A user declares assets with :func:`asset`, checks with :func:`check` and
sources with :func:`source`. Each declaration is recorded in the module whose
top-level code made it (see :func:`declarations`), wherever it was made: at the
top level, in a loop, or in a factory function the module calls. Discovery
(``project.py``) turns those declarations, and ``.sql`` files, into
:class:`Asset` records, which the graph links by name.

Example:
    >>> @asset(tags=["daily"])
    ... def order_count(orders):
    ...     return orders.num_rows
    >>> order_count.name, sorted(order_count.options.tags)
    ('order_count', ['daily'])
"""

from __future__ import annotations

import dis
import functools
import inspect
import keyword
import re
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from assetflow.errors import DefinitionError
from assetflow.freshness import validate_policy

AssetKind = Literal["python", "sql", "source"]

#: The parameter name that receives the run context instead of an upstream.
CONTEXT_PARAM = "context"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The longest asset name. A name becomes a folder of the state folder (most file
#: systems allow 255 bytes) and a DuckDB identifier; 128 leaves room for the
#: temporary and versioned names stored beside it, and is longer than any name a
#: person reads whole.
MAX_NAME_LENGTH = 128
#: The module-level list in which a module keeps what its top-level code declared.
DECLARED = "__assetflow_declared__"


def validate_name(name: object, where: str) -> str:
    """Return ``name`` if it can name an asset, else raise ``DefinitionError``.

    Asset names become DuckDB identifiers and file names, so they are checked
    once, here.

    Example:
        >>> validate_name("orders", "assets/orders.py")
        'orders'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DefinitionError(
            f"{where}: {name!r} is not a valid asset name; use letters, digits and "
            "underscores, not starting with a digit."
        )
    if keyword.iskeyword(name):
        raise DefinitionError(
            f"{where}: {name!r} is a Python keyword and cannot name an asset; rename it."
        )
    if len(name) > MAX_NAME_LENGTH:
        raise DefinitionError(
            f"{where}: asset name {name[:24]!r}... is {len(name)} characters long; names "
            f"become file names and are at most {MAX_NAME_LENGTH} characters, so shorten it."
        )
    return name


def declarations(namespace: Mapping[str, object]) -> list[object]:
    """What the top-level code of the module with ``namespace`` declared, in order.

    ``@asset``, ``@check`` and ``source`` record what they make in the module
    whose top-level code is running, so a declaration counts wherever it is
    made: at the top level, in a loop, or in a factory function called from the
    top level (the module calling it declares, not the one defining it).
    """
    found = namespace.get(DECLARED)
    return list(found) if isinstance(found, list) else []


def _module_frame() -> types.FrameType | None:
    """The frame of the module whose top-level code is running (it declares what we make)."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "<module>":
        frame = frame.f_back
    return frame


def _declare(frame: types.FrameType | None, obj: object) -> None:
    if frame is not None:
        frame.f_globals.setdefault(DECLARED, []).append(obj)


# What a function sees through a name when it is declared: (name, where it lives, value).
# Where it lives is the module's namespace for a global, the cell for a captured variable.
Binding = tuple[str, "dict[str, Any] | types.CellType", object]
_UNBOUND = object()


def _bindings(fn: Callable[..., Any]) -> tuple[Binding, ...]:
    """The module names and captured variables ``fn`` reads, with what they hold now."""
    found: list[Binding] = []
    # Plain functions are the common case: skip the wrapper walk (this runs per asset).
    chain = (fn,) if not hasattr(fn, "__wrapped__") else tuple(_wrapped_chain(fn))
    for f in chain:
        namespace = f.__globals__
        code = f.__code__
        found += [(n, namespace, namespace[n]) for n in _code_names(code) if n in namespace]
        if f.__closure__:
            for name, cell in zip(code.co_freevars, f.__closure__, strict=False):
                found.append((name, cell, _cell_value(cell)))
    return tuple(found)


def _wrapped_chain(fn: Callable[..., Any]) -> Iterator[types.FunctionType]:
    """``fn`` and the functions it wraps (``functools.wraps``), plain functions only."""
    seen: set[int] = set()
    f: object = fn
    while isinstance(f, types.FunctionType) and id(f) not in seen:
        seen.add(id(f))
        yield f
        f = getattr(f, "__wrapped__", None)


def _code_names(code: types.CodeType) -> Iterable[str]:
    """The names a function's bytecode, and that of the functions it nests, may look up."""
    nested = [c for c in code.co_consts if isinstance(c, types.CodeType)]
    if not nested:
        return code.co_names
    names = set(code.co_names)
    for c in nested:
        names.update(_code_names(c))
    return names


def _reads_global(code: types.CodeType, name: str) -> bool:
    """Whether the bytecode loads ``name`` as a global (not as an attribute of something)."""
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval == name:
            return True
    return any(_reads_global(c, name) for c in code.co_consts if isinstance(c, types.CodeType))


def _cell_value(cell: types.CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # not assigned yet
        return _UNBOUND


def check_bindings(
    fn: Callable[..., Any], bindings: tuple[Binding, ...], what: str, where: str
) -> None:
    """Refuse a declaration that would read a name rebound after it was made.

    A function made in a loop reads the loop variable when it runs, not when it
    was made: every asset so made would compute the last one's value. So each
    module name and captured variable the function reads must still hold, once
    its module has loaded, what it held when the asset or check was declared (a
    name bound only later, such as a helper defined further down, is fine).

    Raises:
        DefinitionError: naming the rebound variable and the two fixes.
    """
    for name, home, value in bindings:
        if isinstance(home, dict):
            if home.get(name, _UNBOUND) is value:
                continue
            if not any(_reads_global(f.__code__, name) for f in _wrapped_chain(fn)):
                continue  # an attribute spelled like the module name, not the name itself
            place = "the module"
        else:
            if _cell_value(home) is value:
                continue
            place = "the function that made it"
        raise DefinitionError(
            f"{where}: {what} reads {name!r}, which {place} rebinds after the declaration "
            "(a loop variable?), so it would compute with the last value; bind the value "
            f"per declaration with a parameter default ({name}={name}) or make each one in "
            "its own call of a factory function."
        )


def validate_group(group: str, where: str) -> str:
    """Return ``group`` if each ``/``-separated part of it is a valid name."""
    for part in group.split("/"):
        if not _NAME.fullmatch(part):
            raise DefinitionError(
                f"{where}: group {group!r} is not valid; use names of letters, digits and "
                "underscores, separated by '/' for nested groups (marts/finance)."
            )
    return group


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetOptions:
    """What ``@asset(...)`` or a SQL header says about an asset, validated."""

    group: str | None = None
    tags: frozenset[str] = frozenset()
    description: str | None = None
    freshness: str | Mapping[str, Any] | None = None
    checks: tuple[str, ...] = ()
    retries: int = 0
    retry_delay: float = 1.0
    backoff: float = 2.0
    retry_on: tuple[type[BaseException], ...] = ()
    timeout: float | None = None
    version: str | None = None
    io: str | None = None
    deps: tuple[str, ...] = ()
    exports: tuple[Export, ...] = ()
    outputs: tuple[str, ...] = ()

    def fingerprint_items(self) -> tuple[tuple[str, str], ...]:
        """The options that change an asset's output, for its code version."""
        # Only io and exports change what is written; retries, checks and freshness
        # change when and whether it runs, not what it computes. An export's writer
        # and options are described with the function's bound values (trace.py).
        items: tuple[tuple[str, str], ...] = (("io", repr(self.io)),)
        if self.exports:
            items = (*items, ("exports", repr([e.path for e in self.exports])))
        if self.outputs:
            items = (*items, ("outputs", repr(self.outputs)))
        return items


@dataclass(frozen=True, slots=True)
class Export:
    """A file an asset's value is written to, tracked like stored data: see :func:`export`."""

    path: str
    writer: Callable[..., Any] | None = None
    options: tuple[tuple[str, Any], ...] = ()


def export(path: str, writer: Callable[..., Any] | None = None, /, **options: Any) -> Export:
    """A file, relative to the project root, that an asset's value is written to.

    Pass it as ``@asset(exports=...)``. After each materialization that passes
    its checks, ``writer(value, path, **options)`` writes the file (the value in
    the form the writer's first parameter's annotation asks for, as for an
    asset's parameter); without a writer, a ``.csv``, ``.parquet`` or ``.json``
    file is written by its suffix. The file is tracked: deleted or changed, it
    makes its asset stale, and the next run rewrites it. The writer and options
    are part of the asset's code version.

    Example:
        >>> export("out/orders.csv").path
        'out/orders.csv'
    """
    return Export(path, writer, tuple(sorted(options.items())))


_DEFAULT_WRITERS = (".csv", ".parquet", ".json")


def _exports(value: object, where: str) -> tuple[Export, ...]:
    items = value if isinstance(value, (list, tuple)) else [value]
    found: list[Export] = []
    for item in items:
        e = Export(item) if isinstance(item, str) else item
        if not isinstance(e, Export):
            raise DefinitionError(
                f"{where}: option exports takes paths or export(...) values, not {item!r}."
            )
        path = e.path.replace("\\", "/")
        if (
            not path
            or path.startswith("/")
            or ".." in path.split("/")
            or path.split("/")[0].startswith(".")
        ):
            raise DefinitionError(
                f"{where}: export path {e.path!r} must be a relative path inside the project "
                "(not hidden, no '..'); fix the path."
            )
        if e.writer is None and not path.endswith(_DEFAULT_WRITERS):
            raise DefinitionError(
                f"{where}: export {e.path!r} has no writer and no suffix assetflow writes "
                f"({', '.join(_DEFAULT_WRITERS)}); pass export(path, writer)."
            )
        if e.writer is not None and not callable(e.writer):
            raise DefinitionError(f"{where}: export {e.path!r}: the writer must be callable.")
        if any(f.path == e.path for f in found):
            raise DefinitionError(f"{where}: export {e.path!r} is listed twice.")
        found.append(e)
    return tuple(found)


_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", dict: "a mapping"}
_OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "group": (str,),
    "description": (str,),
    "freshness": (str, dict),
    "retries": (int,),
    "retry_delay": (int, float),
    "backoff": (int, float),
    "timeout": (int, float),
    "version": (str,),
    "io": (str,),
}
_LIST_OPTIONS = ("tags", "checks", "deps", "outputs")
OPTION_NAMES = tuple(sorted([*_OPTION_TYPES, *_LIST_OPTIONS, "retry_on", "exports"]))


def build_options(raw: Mapping[str, object], where: str) -> AssetOptions:
    """Validate ``raw`` options (from ``@asset`` or a SQL header) into ``AssetOptions``.

    Raises:
        DefinitionError: an option has the wrong type or an impossible value.
    """
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key in _LIST_OPTIONS:
            values[key] = _string_list(key, value, where)
        elif key == "retry_on":
            values[key] = _exception_types(value, where)
        elif key == "exports":
            values[key] = _exports(value, where)
        elif key in _OPTION_TYPES:
            expected = _OPTION_TYPES[key]
            if not isinstance(value, expected) or isinstance(value, bool):
                names = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in expected)
                raise DefinitionError(
                    f"{where}: option {key}={value!r} must be {names}; fix the value."
                )
            values[key] = value
        else:
            raise DefinitionError(
                f"{where}: unknown option {key!r}; known options are {', '.join(OPTION_NAMES)}."
            )
    if "group" in values:
        validate_group(values["group"], where)
    if "freshness" in values:
        validate_policy(values["freshness"], where)
    if "checks" in values:
        from assetflow.checks import parse_check

        for text in values["checks"]:
            parse_check(text, where)
    for key in ("retries", "timeout", "retry_delay"):
        if key in values and values[key] < 0:
            raise DefinitionError(f"{where}: option {key} must not be negative; fix the value.")
    if values.get("backoff", 1) < 1:
        raise DefinitionError(f"{where}: option backoff must be at least 1; fix the value.")
    if "tags" in values:
        values["tags"] = frozenset(values["tags"])
    if "deps" in values:
        for dep in values["deps"]:
            validate_name(dep, f"{where}: deps")
    seen: set[str] = set()
    for output in values.get("outputs", ()):
        validate_name(output, f"{where}: outputs")
        if output.lower() in seen:
            raise DefinitionError(f"{where}: output {output!r} is listed twice.")
        seen.add(output.lower())
    return AssetOptions(**values)


def _string_list(key: str, value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise DefinitionError(f"{where}: option {key} must be a list of strings; fix the value.")
    return tuple(value)


def _exception_types(value: object, where: str) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, (list, tuple)) else (value,)
    if not all(isinstance(t, type) and issubclass(t, BaseException) for t in items):
        raise DefinitionError(
            f"{where}: option retry_on must be exception classes, such as (TimeoutError,)."
        )
    return tuple(items)


class AssetFunction:
    """A function decorated with ``@asset``: still callable as the plain function.

    ``line`` is where it is declared in its module: the ``def`` for a function at
    the top level, the calling line for one a factory function made.
    """

    __slots__ = ("__dict__", "bindings", "fn", "line", "name", "options")

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str,
        options: AssetOptions,
        *,
        line: int | None = None,
        bindings: tuple[Binding, ...] = (),
    ) -> None:
        self.fn = fn
        self.name = name
        self.options = options
        self.line = fn.__code__.co_firstlineno if line is None else line
        self.bindings = bindings  # what it read when declared, for check_bindings
        # Keep __name__, __doc__, __module__ so tools and tests see the function.
        self.__dict__.update(
            {k: getattr(fn, k) for k in ("__name__", "__qualname__", "__doc__", "__module__")}
        )
        self.__dict__["__wrapped__"] = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<asset {self.name}>"


@overload
def asset(fn: Callable[..., Any], /) -> AssetFunction: ...
@overload
def asset(
    fn: None = None, /, *, name: str | None = None, **options: Any
) -> Callable[[Callable[..., Any]], AssetFunction]: ...


def asset(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None, **options: Any
) -> AssetFunction | Callable[[Callable[..., Any]], AssetFunction]:
    """Declare a function as an asset, bare or with options.

    Each parameter without a default names an upstream asset or source; a
    parameter named ``context`` receives the run context instead. A parameter
    with a default is a constant bound to the asset, part of its code version.
    The function may be made by a factory function or be a ``functools.partial``
    (its bound arguments are constants too), so one function can declare a family
    of assets. Options: ``name``, ``group``, ``tags``, ``description`` (default:
    the docstring), ``freshness``, ``checks``, ``retries``, ``retry_delay``,
    ``backoff``, ``retry_on``, ``timeout``, ``version`` (pins the code version),
    ``io``, ``deps`` (ordering-only upstreams), ``exports`` (files the value
    is written to, tracked: see :func:`export`) and ``outputs``.

    With ``outputs=["a", "b"]`` the function returns a mapping with those keys
    (or a tuple in that order), and each key is an asset of its own, reading
    this one: its own data version, staleness and early cutoff.

    Example:
        >>> @asset
        ... def answer():
        ...     return 42
        >>> answer()
        42
    """

    def decorate(f: Callable[..., Any]) -> AssetFunction:
        frame = _module_frame()
        if isinstance(f, functools.partial):
            f = _from_partial(f, "{}:{}".format(*_declared_at(f.func, frame)))
        file, line = _declared_at(f, frame)
        where = file if line is None else f"{file}:{line}"
        if not inspect.isfunction(f):
            raise DefinitionError(f"{where}: @asset decorates functions, not {f!r}.")
        if name is None and f.__name__.startswith("_"):
            raise DefinitionError(
                f"{where}: function {f.__name__!r} starts with '_', which marks a private "
                "helper; rename it or pass @asset(name=...)."
            )
        asset_name = validate_name(name if name is not None else f.__name__, where)
        raw = dict(options)
        raw.setdefault("description", _doc(f))
        opts = build_options(raw, where)
        _check_parameters(f, where)
        made = AssetFunction(f, asset_name, opts, line=line, bindings=_bindings(f))
        _declare(frame, made)
        for output in opts.outputs:
            if output.lower() == asset_name.lower():
                raise DefinitionError(
                    f"{where}: output {output!r} has the name of its asset; rename one."
                )
            _declare(frame, _output_asset(made, output))
        return made

    if fn is not None:
        return decorate(fn)
    return decorate


_OUTPUT_KEY = "__assetflow_output"


def _output_asset(parent: AssetFunction, output: str) -> AssetFunction:
    """The asset of one output of a multi-output asset: its value under ``output``.

    Its code is the same for every output (only the key, bound as a constant,
    differs), so its version is pinned to the key: it is stale exactly when the
    parent's data version changes, and early cutoff applies to each output.
    """

    def pick_output(value: Any, *, __assetflow_output: str = output) -> Any:
        return value[__assetflow_output]

    code = pick_output.__code__
    # The parameter is named after the parent asset: parameter names are upstreams.
    renamed = code.replace(
        co_varnames=(parent.name, *code.co_varnames[1:]), co_name=output, co_qualname=output
    )
    fn = types.FunctionType(renamed, pick_output.__globals__, output, None, None)
    fn.__kwdefaults__ = {_OUTPUT_KEY: output}
    fn.__module__ = parent.fn.__module__
    opts = AssetOptions(
        group=parent.options.group,
        tags=parent.options.tags,
        description=f"Output {output!r} of {parent.name}.",
        version=f"output {output} of {parent.name}",
    )
    return AssetFunction(fn, output, opts, line=parent.line, bindings=())


def split_outputs(value: Any, outputs: tuple[str, ...], where: str, name: str) -> Any:
    """A multi-output asset's return value as a dict with exactly its ``outputs``.

    Raises:
        MaterializationError: the value is not such a mapping (or a tuple of that length).
    """
    from assetflow.errors import MaterializationError

    if isinstance(value, tuple | list) and len(value) == len(outputs):
        return dict(zip(outputs, value, strict=True))
    if isinstance(value, Mapping) and set(value) == set(outputs):
        return dict(value)
    found = sorted(map(str, value)) if isinstance(value, Mapping) else type(value).__name__
    raise MaterializationError(
        f"{where}: asset {name!r} must return a mapping with the keys {list(outputs)} "
        f"(or a tuple of {len(outputs)} values), not {found}."
    )


def _declared_at(f: object, frame: types.FrameType | None) -> tuple[str, int | None]:
    """File and line for messages: the ``def`` of a top-level function, else the declaring line."""
    code = getattr(f, "__code__", None)
    if isinstance(code, types.CodeType) and (
        frame is None
        or (
            getattr(f, "__globals__", None) is frame.f_globals
            and getattr(f, "__qualname__", "") == getattr(f, "__name__", None)
        )
    ):
        return code.co_filename, code.co_firstlineno
    if frame is None:
        return repr(f), None
    return frame.f_code.co_filename, frame.f_lineno


def _from_partial(p: functools.partial[Any], where: str) -> types.FunctionType:
    """A copy of a partial's function whose bound arguments are parameter defaults.

    Every parameter becomes keyword-only, so any of them can carry a bound value
    as its default (upstreams are passed by name anyway); the copy then declares
    an asset like a function with defaults, and its code version sees the values.
    """
    fn = p.func
    if not isinstance(fn, types.FunctionType):
        raise DefinitionError(
            f"{where}: @asset takes a functools.partial of a function, not {fn!r}."
        )
    code = fn.__code__
    positional = code.co_varnames[: code.co_argcount]
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    if code.co_posonlyargcount or len(p.args) > len(positional):
        raise DefinitionError(
            f"{where}: the functools.partial binds {len(p.args)} positional arguments of "
            f"{fn.__name__!r}; bind them by keyword instead."
        )
    unknown = sorted(set(p.keywords) - set(names))
    if unknown:
        raise DefinitionError(
            f"{where}: the functools.partial binds {unknown[0]!r}, which {fn.__name__!r} "
            "does not take; fix the keyword."
        )
    defaults = dict(
        zip(
            positional[len(positional) - len(fn.__defaults__ or ()) :],
            fn.__defaults__ or (),
            strict=True,
        )
    )
    defaults |= fn.__kwdefaults__ or {}
    defaults |= dict(zip(positional, p.args, strict=False)) | p.keywords
    copy = types.FunctionType(
        code.replace(co_argcount=0, co_kwonlyargcount=len(names)),
        fn.__globals__,
        fn.__name__,
        None,
        fn.__closure__,
    )
    copy.__kwdefaults__ = defaults
    copy.__qualname__ = fn.__qualname__
    copy.__doc__ = fn.__doc__
    copy.__annotations__ = dict(fn.__annotations__)
    copy.__module__ = fn.__module__
    return copy


def _doc(f: Callable[..., Any]) -> str | None:
    # Not inspect.getdoc: for a function without a docstring it searches classes for one.
    return inspect.cleandoc(f.__doc__) if f.__doc__ else None


def _where(f: Callable[..., Any]) -> str:
    code = getattr(f, "__code__", None)
    if code is None:
        return repr(f)
    return f"{code.co_filename}:{code.co_firstlineno}"


def _parameters(f: Callable[..., Any]) -> tuple[str, ...]:
    """The parameter names of a plain function, read off its code object.

    ``inspect.signature`` gives the same answer at 50 µs a call, which a project
    of 10 000 assets pays twice on every load.
    """
    code = f.__code__
    return code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


def _check_parameters(f: Callable[..., Any], where: str) -> None:
    code = f.__code__
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        star = "*" if code.co_flags & inspect.CO_VARARGS else "**"
        raise DefinitionError(
            f"{where}: asset {f.__name__!r} takes {star}arguments; each parameter must name "
            "one upstream asset, so list them explicitly."
        )
    if code.co_posonlyargcount:
        name = code.co_varnames[0]
        raise DefinitionError(
            f"{where}: asset {f.__name__!r} has positional-only parameter {name!r}; "
            "upstreams are passed by name, so remove the '/'."
        )


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """An external input: a file (or glob) whose content is observed, or an observer function.

    Create one with :func:`source`; its name is the module variable it is
    assigned to, unless ``name=`` is given.
    """

    path: str | None = None
    observe: Callable[[], str] | None = None
    name: str | None = None
    description: str | None = None
    freshness: str | Mapping[str, Any] | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    file: str | None = None  # where it was declared, for messages and discovery
    line: int | None = None
    reader: str = ""  # DuckDB reader options as named arguments: "delim = ';', header = true"
    # A Python function that reads the file(s) instead of DuckDB: read(path) -> a table.
    read: Callable[..., Any] | None = field(default=None, compare=False)


_SOURCE_OPTIONS = frozenset({"description", "freshness", "tags", "read"})


@overload
def source(path: str, /, *, name: str | None = None, **options: Any) -> Source: ...
@overload
def source(path: Callable[[], str], /) -> Source: ...
@overload
def source(
    path: None = None, /, *, name: str | None = None, **options: Any
) -> Callable[[Callable[[], str]], Source]: ...


def source(
    path: str | Callable[[], str] | None = None, /, *, name: str | None = None, **options: Any
) -> Source | Callable[[Callable[[], str]], Source]:
    """Declare an external input that assets can take as a parameter.

    ``source("data/orders.csv")`` (a path relative to the project root, or a
    glob) is a file source: its version is its content. ``@source`` on a
    function makes an observed source: the function returns a version string
    (say, a ``max(updated_at)`` from an API) and is called when planning.

    Any other keyword is an option of DuckDB's reader for the file, passed
    through: ``source("data/x.csv", columns={"id": "INTEGER"}, delim=";",
    header=True)`` (see :mod:`assetflow.reader`).

    ``read=`` reads the file with a Python function instead of DuckDB:
    ``read(path)`` (a list of paths for a glob) returns a table, such as
    ``functools.partial(pd.read_csv, dtype={"id": str})``; the function and
    its bound arguments are part of the source's version.

    Example:
        >>> raw_orders = source("data/orders.csv")
        >>> raw_orders.path
        'data/orders.csv'
    """
    reader_options = {k: v for k, v in options.items() if k not in _SOURCE_OPTIONS}
    if reader_options and not isinstance(path, str):
        raise DefinitionError(
            f"source: unknown option {sorted(reader_options)[0]!r}; an @source function "
            "takes name, description, freshness and tags (reader options are for files)."
        )
    tags = frozenset(_string_list("tags", options.get("tags", ()), f"source {path!r}"))
    if options.get("freshness") is not None:
        validate_policy(options["freshness"], f"source {path!r}")

    frame = _module_frame()

    def observed(f: Callable[[], str]) -> Source:
        where = _where(f)
        made = Source(
            file=f.__code__.co_filename,
            line=f.__code__.co_firstlineno,
            observe=f,
            name=validate_name(name or f.__name__, where),
            description=options.get("description") or _doc(f),
            freshness=options.get("freshness"),
            tags=tags,
        )
        _declare(frame, made)
        return made

    if callable(path):
        return observed(path)
    if path is None:
        return observed
    if not isinstance(path, str) or not path:
        raise DefinitionError(f"source({path!r}): the path must be a non-empty string.")
    caller = frame or sys._getframe(1)  # a factory's source is declared where it is called
    where = f"{caller.f_code.co_filename}:{caller.f_lineno}: source({path!r})"
    if name is not None:
        validate_name(name, where)
    from assetflow.reader import reader_arguments

    read = options.get("read")
    if read is not None and not callable(read):
        raise DefinitionError(f"{where}: read= takes a function of the path, not {read!r}.")
    if read is not None and reader_options:
        raise DefinitionError(
            f"{where}: read= replaces DuckDB's reader, so its options "
            f"({', '.join(sorted(reader_options))}) do not apply; bind them to the function "
            "(functools.partial) instead."
        )
    made = Source(
        file=caller.f_code.co_filename,
        line=caller.f_lineno,
        path=path,
        name=name,
        description=options.get("description"),
        freshness=options.get("freshness"),
        tags=tags,
        reader=reader_arguments(path, reader_options, where),
        read=read,
    )
    _declare(frame, made)
    return made


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What a custom check may return instead of a bool: a verdict with details."""

    passed: bool
    details: str = ""
    violations: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class CheckFunction:
    """A function decorated with ``@check("asset")``: it audits that asset's new data."""

    fn: Callable[..., Any]
    asset: str
    severity: str
    name: str
    file: str
    line: int
    bindings: tuple[Binding, ...] = field(default=(), repr=False)  # for check_bindings

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def reads(self) -> tuple[str, ...]:
        """The names of its parameters after the first: other assets or sources it reads."""
        return _parameters(self.fn)[1:]


def check(
    asset: str, *, severity: str = "error", name: str | None = None
) -> Callable[[Callable[..., Any]], CheckFunction]:
    """Declare a custom check on ``asset``: a function of its new value.

    The function's first parameter receives the value, in the form its annotation
    asks for (``pa.Table`` by default for tables); each further parameter names
    another asset or source and receives its current data, like an asset's
    parameters (the run orders the asset after them). It returns ``True`` when the
    data is good, or a :class:`CheckOutcome` with details. It runs before the value
    is published; an ``error`` failure keeps the previous version current.

    Example:
        >>> @check("orders", severity="warn")
        ... def has_rows(orders):
        ...     return orders.num_rows > 0
        >>> has_rows.asset, has_rows.severity
        ('orders', 'warn')
    """

    frame = _module_frame()

    def decorate(fn: Callable[..., Any]) -> CheckFunction:
        where = _where(fn)
        if severity not in ("error", "warn"):
            raise DefinitionError(
                f"{where}: @check severity must be 'error' or 'warn', not {severity!r}."
            )
        if not isinstance(asset, str) or not asset:
            raise DefinitionError(f"{where}: @check takes the name of the asset it checks.")
        code = fn.__code__
        made = CheckFunction(
            fn,
            asset,
            severity,
            name or fn.__name__,
            code.co_filename,
            code.co_firstlineno,
            _bindings(fn),
        )
        _declare(frame, made)
        return made

    return decorate


@dataclass(frozen=True, slots=True)
class Input:
    """One upstream a Python asset receives: its parameter, the asset, the annotation."""

    param: str
    asset: str
    annotation: Any = inspect.Parameter.empty


@dataclass(frozen=True, slots=True, eq=False)
class Asset:
    """A discovered asset or source, as the graph and the planner see it.

    ``upstream`` holds every upstream name (inputs, then ordering-only deps and the
    other assets its checks read), resolved to the upstreams' own spelling once the
    graph is built. ``check_reads`` are those its checks read: the run orders the
    asset after them, but their data versions do not make it stale.
    """

    name: str
    kind: AssetKind
    file: str
    line: int | None
    group: str
    options: AssetOptions
    upstream: tuple[str, ...] = ()
    inputs: tuple[Input, ...] = ()
    fn: Callable[..., Any] | None = None
    takes_context: bool = False
    sql: Any = None  # assetflow.sql.SqlDefinition, typed loosely to keep sqlglot out
    source: Source | None = None
    custom_checks: tuple[CheckFunction, ...] = ()
    sql_checks: tuple[Any, ...] = ()  # assetflow.checks.SqlCheck
    check_reads: tuple[str, ...] = ()
    constants: tuple[str, ...] = ()  # parameters with a default: bound values, not upstreams
    settings: tuple[str, ...] = ()  # parameters named like a project setting: its value

    @property
    def tags(self) -> frozenset[str]:
        return self.options.tags

    @property
    def description(self) -> str | None:
        return self.options.description

    @property
    def where(self) -> str:
        """``file:line`` (or just the file) for messages."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def __repr__(self) -> str:
        return f"Asset({self.name!r}, kind={self.kind!r}, upstream={list(self.upstream)!r})"


def python_asset(
    defn: AssetFunction, *, file: str, group: str, settings: frozenset[str] = frozenset()
) -> Asset:
    """The ``Asset`` record of a decorated function found in ``file``.

    A parameter named like one of the project's ``settings`` receives that
    setting's value: it is not an upstream.
    """
    fn = defn.fn
    inputs = []
    read: list[str] = []
    takes_context = False
    annotations = fn.__annotations__
    constants = _defaulted(fn) if fn.__defaults__ or fn.__kwdefaults__ else frozenset()
    for param in _parameters(fn):
        if param == CONTEXT_PARAM:
            takes_context = True
            continue
        if param in constants:
            continue
        if param in settings:
            read.append(param)
            continue
        inputs.append(Input(param, param, annotations.get(param, inspect.Parameter.empty)))
    deps = tuple(d for d in defn.options.deps if d not in {i.asset for i in inputs})
    return Asset(
        name=defn.name,
        kind="python",
        file=file,
        line=defn.line,
        group=defn.options.group or group,
        options=defn.options,
        upstream=tuple(i.asset for i in inputs) + deps,
        inputs=tuple(inputs),
        fn=fn,
        takes_context=takes_context,
        constants=tuple(i for i in _parameters(fn) if i in constants and i != CONTEXT_PARAM)
        if constants
        else (),
        settings=tuple(read),
    )


def _defaulted(fn: Callable[..., Any]) -> frozenset[str]:
    """The parameters of ``fn`` that have a default value."""
    code = fn.__code__
    positional = code.co_varnames[: code.co_argcount]
    count = len(fn.__defaults__ or ())
    return frozenset(positional[len(positional) - count :] if count else ()) | frozenset(
        fn.__kwdefaults__ or ()
    )


def source_asset(src: Source, *, name: str, file: str, line: int | None, group: str) -> Asset:
    """The ``Asset`` record (kind ``source``) of a declared source."""
    opts = AssetOptions(
        group=group, tags=src.tags, description=src.description, freshness=src.freshness
    )
    return Asset(
        name=name, kind="source", file=file, line=line, group=group, options=opts, source=src
    )
