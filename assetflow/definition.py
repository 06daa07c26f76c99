"""Declaring assets and sources: ``@asset``, ``source`` and the ``Asset`` record.

A user declares assets with :func:`asset` on module-level functions and
sources with :func:`source`. Discovery (``project.py``) turns those
declarations, and ``.sql`` files, into :class:`Asset` records, which the graph
links by name.

Example:
    >>> @asset(tags=["daily"])
    ... def order_count(orders):
    ...     return orders.num_rows
    >>> order_count.name, sorted(order_count.options.tags)
    ('order_count', ['daily'])
"""

from __future__ import annotations

import inspect
import keyword
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from assetflow.errors import DefinitionError
from assetflow.freshness import validate_policy

AssetKind = Literal["python", "sql", "source"]

#: The parameter name that receives the run context instead of an upstream.
CONTEXT_PARAM = "context"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    return name


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

    def fingerprint_items(self) -> tuple[tuple[str, str], ...]:
        """The options that change an asset's output, for its code version."""
        # Only io changes what is stored; retries, checks and freshness change
        # when and whether it runs, not what it computes.
        return (("io", repr(self.io)),)


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
_LIST_OPTIONS = ("tags", "checks", "deps")
OPTION_NAMES = tuple(sorted([*_OPTION_TYPES, *_LIST_OPTIONS, "retry_on"]))


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
    """A function decorated with ``@asset``: still callable as the plain function."""

    __slots__ = ("__dict__", "fn", "name", "options")

    def __init__(self, fn: Callable[..., Any], name: str, options: AssetOptions) -> None:
        self.fn = fn
        self.name = name
        self.options = options
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
    """Declare a module-level function as an asset, bare or with options.

    Each parameter names an upstream asset or source; a parameter named
    ``context`` receives the run context instead. Options: ``name``,
    ``group``, ``tags``, ``description`` (default: the docstring),
    ``freshness``, ``checks``, ``retries``, ``retry_delay``, ``backoff``,
    ``retry_on``, ``timeout``, ``version`` (pins the code version), ``io``
    and ``deps`` (ordering-only upstreams).

    Example:
        >>> @asset
        ... def answer():
        ...     return 42
        >>> answer()
        42
    """

    def decorate(f: Callable[..., Any]) -> AssetFunction:
        where = _where(f)
        if not inspect.isfunction(f):
            raise DefinitionError(f"{where}: @asset decorates functions, not {f!r}.")
        if "." in f.__qualname__.replace("<locals>.", "."):
            raise DefinitionError(
                f"{where}: @asset function {f.__qualname__!r} is not at module level; "
                "move it to the top level of the module."
            )
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
        return AssetFunction(f, asset_name, opts)

    if fn is not None:
        return decorate(fn)
    return decorate


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

    Example:
        >>> raw_orders = source("data/orders.csv")
        >>> raw_orders.path
        'data/orders.csv'
    """
    unknown = set(options) - {"description", "freshness", "tags"}
    if unknown:
        raise DefinitionError(
            f"source {path!r}: unknown option {sorted(unknown)[0]!r}; "
            "sources take name, description, freshness and tags."
        )
    tags = frozenset(_string_list("tags", options.get("tags", ()), f"source {path!r}"))
    if options.get("freshness") is not None:
        validate_policy(options["freshness"], f"source {path!r}")

    def observed(f: Callable[[], str]) -> Source:
        where = _where(f)
        return Source(
            file=f.__code__.co_filename,
            line=f.__code__.co_firstlineno,
            observe=f,
            name=validate_name(name or f.__name__, where),
            description=options.get("description") or _doc(f),
            freshness=options.get("freshness"),
            tags=tags,
        )

    if callable(path):
        return observed(path)
    if path is None:
        return observed
    if not isinstance(path, str) or not path:
        raise DefinitionError(f"source({path!r}): the path must be a non-empty string.")
    if name is not None:
        validate_name(name, f"source({path!r})")
    caller = sys._getframe(1)
    return Source(
        file=caller.f_code.co_filename,
        line=caller.f_lineno,
        path=path,
        name=name,
        description=options.get("description"),
        freshness=options.get("freshness"),
        tags=tags,
    )


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

    def decorate(fn: Callable[..., Any]) -> CheckFunction:
        where = _where(fn)
        if severity not in ("error", "warn"):
            raise DefinitionError(
                f"{where}: @check severity must be 'error' or 'warn', not {severity!r}."
            )
        if not isinstance(asset, str) or not asset:
            raise DefinitionError(f"{where}: @check takes the name of the asset it checks.")
        code = fn.__code__
        return CheckFunction(
            fn, asset, severity, name or fn.__name__, code.co_filename, code.co_firstlineno
        )

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


def python_asset(defn: AssetFunction, *, file: str, group: str) -> Asset:
    """The ``Asset`` record of a decorated function found in ``file``."""
    fn = defn.fn
    inputs = []
    takes_context = False
    annotations = fn.__annotations__
    for param in _parameters(fn):
        if param == CONTEXT_PARAM:
            takes_context = True
            continue
        inputs.append(Input(param, param, annotations.get(param, inspect.Parameter.empty)))
    deps = tuple(d for d in defn.options.deps if d not in {i.asset for i in inputs})
    return Asset(
        name=defn.name,
        kind="python",
        file=file,
        line=fn.__code__.co_firstlineno,
        group=defn.options.group or group,
        options=defn.options,
        upstream=tuple(i.asset for i in inputs) + deps,
        inputs=tuple(inputs),
        fn=fn,
        takes_context=takes_context,
    )


def source_asset(src: Source, *, name: str, file: str, line: int | None, group: str) -> Asset:
    """The ``Asset`` record (kind ``source``) of a declared source."""
    opts = AssetOptions(
        group=group, tags=src.tags, description=src.description, freshness=src.freshness
    )
    return Asset(
        name=name, kind="source", file=file, line=line, group=group, options=opts, source=src
    )
