"""Describing a module value for code versions: a stable text that changes with its content.

Plain data, numbers, dates, paths, enums, patterns, ``functools.partial``,
bound methods, functions (their bytecode, defaults and closure) and objects
(their type and attributes) are described exactly, recursively; set order and
memory addresses never reach the text. Anything else is described by its type
and ``repr`` and marked inexact, so the caller can say so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import functools
import logging
import pathlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from hashlib import blake2b
from types import BuiltinFunctionType, CodeType, FunctionType, MethodType, ModuleType
from typing import Any

_SCALARS = (int, float, complex, str, bytes, bool, type(None))
# Values whose repr is exact and stable: the type and the repr describe them.
_EXACT_REPR = (
    fractions.Fraction,
    decimal.Decimal,
    dt.date,
    dt.time,
    dt.timedelta,
    dt.timezone,
    uuid.UUID,
    pathlib.PurePath,
    range,
    slice,
    bytearray,
)
_VALUE_LIMIT = 10_000  # items described per value; a bigger one is described by type and size
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
_UNSET = object()


@dataclass(frozen=True, slots=True)
class Description:
    """What :func:`describe_value` makes of a value."""

    text: str
    exact: bool
    code: tuple[object, ...]  # the functions and classes it holds, whose code matters


def describe_value(value: object, is_local: Callable[[str], bool]) -> Description:
    """A deterministic text for ``value`` that changes when its content does.

    Plain data (scalars, containers), numbers, dates, paths, enums, patterns,
    ``functools.partial``, bound methods, functions (their code, defaults and
    closure), and objects by their type and attributes are described exactly.
    Anything else is described by its type and its ``repr`` (with memory
    addresses removed) and marked inexact.

    Example:
        >>> d = describe_value({"b": frozenset({"y", "x"}), "a": 1.5}, lambda m: False)
        >>> d.text, d.exact
        ("dict(str:'b':frozenset(str:'x',str:'y'),str:'a':float:1.5)", True)
    """
    budget = [_VALUE_LIMIT]
    exact = [True]
    code: list[object] = []
    active: set[int] = set()  # containers being described: a cycle is named, not followed

    def walk(v: object) -> str:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooBig
        t = type(v)
        if t in _SCALARS:
            return f"{t.__name__}:{v!r}"
        if id(v) in active:
            return "<cycle>"
        active.add(id(v))
        try:
            return describe(v, t)
        finally:
            active.discard(id(v))

    def module_of(obj: Any) -> str:
        module = str(getattr(obj, "__module__", ""))
        # A project module's name starts with the package of its load: leave that out.
        return module.partition(".")[2] if is_local(module) else module

    def type_name(t: type) -> str:
        module = module_of(t)
        return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"

    def describe(v: Any, t: type) -> str:
        name = type_name(t)
        if isinstance(v, tuple | list):
            fields = getattr(v, "_fields", None)  # a namedtuple's names are part of it
            return f"{name}{fields or ''}({','.join(map(walk, v))})"
        if isinstance(v, set | frozenset):  # sorted: set order changes with the hash seed
            return f"{name}({','.join(sorted(map(walk, v)))})"
        if isinstance(v, dict | Mapping) and not isinstance(v, type):
            return f"{name}(" + ",".join(f"{walk(k)}:{walk(x)}" for k, x in v.items()) + ")"
        if isinstance(v, enum.Enum):
            code.append(t)
            return f"{name}.{v.name}={walk(v.value)}"
        if isinstance(v, _EXACT_REPR):
            return f"{name}:{v!r}"
        if isinstance(v, re.Pattern):
            return f"re({walk(v.pattern)},{v.flags})"
        if isinstance(v, ModuleType):
            return f"module:{v.__name__}"
        if isinstance(v, functools.partial):
            return f"partial({walk(v.func)},{walk(v.args)},{walk(v.keywords)})"
        if isinstance(v, MethodType):
            return f"method({walk(v.__self__)},{walk(v.__func__)})"
        if isinstance(v, FunctionType):
            return function(v)
        if isinstance(v, type):
            return klass(v)
        if isinstance(v, BuiltinFunctionType):
            owner = v.__self__
            held = "" if owner is None or isinstance(owner, ModuleType) else walk(owner)
            return f"builtin:{v.__module__}.{v.__qualname__}({held})"
        if isinstance(v, logging.Logger):  # loggers are shared services, not data
            return f"logger:{v.name}"
        if t.__module__ == "numpy" and hasattr(v, "tobytes") and hasattr(v, "dtype"):
            digest = blake2b(v.tobytes(), digest_size=16).hexdigest()
            return f"{name}({v.dtype},{getattr(v, 'shape', '')},{digest})"
        state = _state(v)
        if state is not None:
            if is_local(t.__module__):
                code.append(t)
            return f"{name}{walk(state)}"
        exact[0] = False
        return f"{name}~{_ADDRESS.sub(' at 0x?', repr(v))}"

    def function(fn: FunctionType) -> str:
        where = f"{module_of(fn)}.{fn.__qualname__}"
        if not is_local(fn.__module__):
            return f"fn:{where}"
        code.append(fn)
        if fn.__qualname__ == fn.__name__ and fn.__name__ != "<lambda>":
            return f"fn:{where}"  # a top-level def: the trace follows its source
        # A lambda or a nested function: its code and everything bound to it.
        cells = tuple(c.cell_contents for c in fn.__closure__ or () if _filled(c))
        held = (fn.__defaults__, fn.__kwdefaults__, cells)
        # The first constant is the docstring, or None when there is none.
        first = fn.__code__.co_consts[:1]
        doc = first == (None,) or (fn.__doc__ is not None and first == (fn.__doc__,))
        return f"fn:{where}({code_text(fn.__code__, docstring=doc)},{walk(held)})"

    def klass(cls: type) -> str:
        where = f"{module_of(cls)}.{cls.__qualname__}"
        if not is_local(cls.__module__):
            return f"type:{where}"
        code.append(cls)
        if cls.__qualname__ == cls.__name__:
            return f"type:{where}"
        own = {k: x for k, x in vars(cls).items() if not (k.startswith("__") and k.endswith("__"))}
        return f"type:{where}({walk(own)})"

    try:
        text = walk(value)
    except Exception:  # too big, too deep, or a repr or attribute that raises
        exact[0] = False
        size = len(value) if isinstance(value, list | tuple | set | frozenset | dict) else ""
        text = f"{type_name(type(value))}~big{size}"
    return Description(text, exact[0], tuple(code))


class _TooBig(Exception):
    pass


def _state(v: object) -> dict[str, object] | None:
    """An object's attributes (``__dict__`` and ``__slots__``), if it has any to describe."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: getattr(v, f.name, None) for f in dataclasses.fields(v)}
    state = dict(getattr(v, "__dict__", None) or {})
    for klass in type(v).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if isinstance(slot, str) and slot not in {"__dict__", "__weakref__"}:
                state[slot] = getattr(v, slot, _UNSET)
    if not state and type(v).__repr__ is not object.__repr__:
        return None  # it keeps its state elsewhere (a C type, say): its repr says more
    return {k: ("<unset>" if x is _UNSET else x) for k, x in state.items()}


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def code_text(code: CodeType, *, docstring: bool = False) -> str:
    """A function's bytecode and what it names, without line numbers, stable across runs.

    With ``docstring``, the first constant (the function's docstring) is left out.
    """
    consts = []
    for c in code.co_consts[1:] if docstring else code.co_consts:
        if isinstance(c, CodeType):
            consts.append(code_text(c))
        elif isinstance(c, frozenset):  # `x in {"a", "b"}`: order changes with the hash seed
            consts.append(f"frozenset({sorted(map(repr, c))})")
        else:
            consts.append(repr(c))
    return f"code({code.co_code.hex()};{code.co_names};{code.co_varnames};{','.join(consts)})"
