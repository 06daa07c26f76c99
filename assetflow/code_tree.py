"""One definition's syntax tree as text, and the global names it reads, by Python's scopes.

A code version hashes the normalized tree of an asset's function and of what
it references. Which names are references is decided the way Python decides
it: a name bound in a function (a parameter, an assignment, an import, a
``for`` target, ...) hides a module name only inside that function and the
functions nested in it; defaults, decorators and annotations are evaluated in
the enclosing scope; a comprehension has a scope of its own. Where Python's
rule depends on run-time order (a class body may read a module name before
binding its own), the name counts as a reference: an extra reference costs at
most an unnecessary run, a missed one a wrong skip.

Example:
    >>> import ast
    >>> tree = ast.parse("def f(x, k=K):\\n    def g(K):\\n        return K\\n    return g(x) + C")
    >>> sorted(normalize(tree.body[0])[1])
    [('C',), ('K',)]
"""

from __future__ import annotations

import ast
from collections.abc import Callable

_Chain = tuple[str, ...]  # a global name and the attributes read from it: ("_lib", "triple")
#: The first item of a chain that names a module-level ``from X import y`` made inside a
#: function: ``(FROM_IMPORT, "..X", "y", *attributes)``, X relative to the module's package.
FROM_IMPORT = "\0from"
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_MATCH_NAMES = (ast.MatchAs, ast.MatchStar)


class _Scope:
    """A function, lambda, comprehension, class body or the module, and what it binds."""

    __slots__ = ("bound", "declared_global", "declared_nonlocal", "imported", "kind", "parent")

    def __init__(self, kind: str, parent: _Scope | None) -> None:
        self.kind = kind
        self.parent = parent
        self.bound: set[str] = set()
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (relative module, name)


def normalize(
    node: ast.AST, *, keep_decorator: Callable[[ast.expr], bool] | None = None
) -> tuple[str, set[_Chain]]:
    """The tree without positions or docstrings, and the global names and chains it reads.

    The text holds what ``ast.dump(node, annotate_fields=False,
    include_attributes=False)`` does, docstrings left out; one pass serves both
    jobs. ``node`` is a top-level statement, read in the module's scope.

    Args:
        node: A module-level statement (a ``def``, ``class``, assignment, ...).
        keep_decorator: For a ``def`` or ``class``: which of its decorators
            belong to its code (``@asset`` does not: its options are versioned
            apart). Default: all.
    """
    out: list[str] = []
    emit = out.append
    loads: list[tuple[_Chain, _Scope]] = []

    def visit(n: ast.AST, scope: _Scope) -> None:
        # type() checks, not isinstance: this runs for every node of every definition.
        t = type(n)
        if t is ast.Name:
            assert isinstance(n, ast.Name)
            if type(n.ctx) is ast.Load:
                loads.append(((n.id,), scope))
            else:
                scope.bound.add(n.id)
            emit(f"Name({n.id!r},{type(n.ctx).__name__})")
            return
        if t is ast.Constant:
            assert isinstance(n, ast.Constant)
            emit(f"Constant({n.value!r},{n.kind!r})")
            return
        if t in _FUNCTIONS:
            assert isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            function(n, scope, n is node)
            return
        if t is ast.Lambda:
            assert isinstance(n, ast.Lambda)
            inner = _Scope("function", scope)
            emit("Lambda(")
            arguments(n.args, inner, scope)
            visit(n.body, inner)
            emit(")")
            return
        if t is ast.ClassDef:
            assert isinstance(n, ast.ClassDef)
            class_(n, scope, n is node)
            return
        if t in _COMPREHENSIONS:
            comprehension(n, scope)
            return
        if t is ast.Attribute:
            assert isinstance(n, ast.Attribute)
            attribute(n, scope)
        elif t is ast.Global:
            assert isinstance(n, ast.Global)
            scope.declared_global.update(n.names)
        elif t is ast.Nonlocal:
            assert isinstance(n, ast.Nonlocal)
            scope.declared_nonlocal.update(n.names)
        elif t is ast.Import or t is ast.ImportFrom:
            assert isinstance(n, ast.Import | ast.ImportFrom)
            import_(n, scope)
        elif t is ast.ExceptHandler:
            assert isinstance(n, ast.ExceptHandler)
            if n.name:
                scope.bound.add(n.name)
        elif t in _MATCH_NAMES:
            assert isinstance(n, ast.MatchAs | ast.MatchStar)
            if n.name:
                scope.bound.add(n.name)
        elif t is ast.MatchMapping:
            assert isinstance(n, ast.MatchMapping)
            if n.rest:
                scope.bound.add(n.rest)
        emit(t.__name__)
        for name in n._fields:  # field(), inlined: this is the hot loop
            v = getattr(n, name, None)
            if isinstance(v, ast.AST):
                visit(v, scope)
            elif type(v) is list:
                emit("[")
                for item in v:
                    if isinstance(item, ast.AST):
                        visit(item, scope)
                    else:
                        emit(repr(item))
                emit("]")
            else:
                emit(repr(v))
        emit(")")

    def field(v: object, scope: _Scope) -> None:
        if isinstance(v, ast.AST):
            visit(v, scope)
        elif type(v) is list:
            emit("[")
            for item in v:
                if isinstance(item, ast.AST):
                    visit(item, scope)
                else:
                    emit(repr(item))
            emit("]")
        else:
            emit(repr(v))

    def body(statements: list[ast.stmt], scope: _Scope) -> None:
        emit("[")
        for i, statement in enumerate(statements):
            if i == 0 and _is_docstring(statement):
                continue
            visit(statement, scope)
        emit("]")

    def decorators(n: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, top: bool) -> None:
        keep = keep_decorator if top and keep_decorator is not None else None
        field([d for d in n.decorator_list if keep is None or keep(d)], scope_of[id(n)])

    scope_of: dict[int, _Scope] = {}  # a def's enclosing scope, for its decorators

    def function(n: ast.FunctionDef | ast.AsyncFunctionDef, scope: _Scope, top: bool) -> None:
        scope.bound.add(n.name)
        scope_of[id(n)] = scope
        inner = _Scope("function", scope)
        emit(f"{type(n).__name__}({n.name!r}")
        arguments(n.args, inner, scope)
        body(n.body, inner)
        decorators(n, top)
        field(n.returns, scope)
        emit(")")

    def class_(n: ast.ClassDef, scope: _Scope, top: bool) -> None:
        scope.bound.add(n.name)
        scope_of[id(n)] = scope
        emit(f"ClassDef({n.name!r}")
        field(n.bases, scope)
        field(n.keywords, scope)
        body(n.body, _Scope("class", scope))
        decorators(n, top)
        emit(")")

    def arguments(a: ast.arguments, inner: _Scope, outer: _Scope) -> None:
        emit("arguments(")
        for group in (a.posonlyargs, a.args, [a.vararg], a.kwonlyargs, [a.kwarg]):
            emit("[")
            for arg in group:
                if arg is not None:
                    inner.bound.add(arg.arg)
                    emit(f"arg({arg.arg!r}")
                    field(arg.annotation, outer)  # annotations and defaults: the outer scope
                    emit(")")
            emit("]")
        field(a.kw_defaults, outer)
        field(a.defaults, outer)
        emit(")")

    def comprehension(n: ast.AST, scope: _Scope) -> None:
        inner = _Scope("comprehension", scope)
        emit(type(n).__name__)
        for name in n._fields:
            if name != "generators":
                field(getattr(n, name), inner)
        emit("[")
        for i, gen in enumerate(getattr(n, "generators", [])):
            emit("comprehension(")
            visit(gen.target, inner)
            # The first iterable is evaluated in the enclosing scope, the rest inside.
            visit(gen.iter, scope if i == 0 else inner)
            field(gen.ifs, inner)
            emit(f"{gen.is_async})")
        emit("])")

    def attribute(n: ast.Attribute, scope: _Scope) -> None:
        chain = [n.attr]
        value = n.value
        while type(value) is ast.Attribute:
            assert isinstance(value, ast.Attribute)
            chain.append(value.attr)
            value = value.value
        if type(value) is ast.Name:
            assert isinstance(value, ast.Name)
            if type(value.ctx) is ast.Load:
                loads.append(((value.id, *reversed(chain)), scope))

    def import_(n: ast.Import | ast.ImportFrom, scope: _Scope) -> None:
        for alias in n.names:
            if alias.name == "*":
                continue
            local = alias.asname or alias.name.partition(".")[0]
            scope.bound.add(local)
            if isinstance(n, ast.ImportFrom) and scope.kind != "module":
                scope.imported[local] = ("." * n.level + (n.module or ""), alias.name)

    visit(node, _Scope("module", None))
    return "\0".join(out), _references(loads)


def _references(loads: list[tuple[_Chain, _Scope]]) -> set[_Chain]:
    """The loads that read module names (or names a function imported), by Python's rules."""
    refs: set[_Chain] = set()
    for chain, scope in loads:
        name = chain[0]
        s: _Scope | None = scope
        while s is not None:
            if s.kind == "module" or name in s.declared_global:
                refs.add(chain)
                break
            if s.kind == "class":
                if s is scope:
                    # A class body reads its own names first, then the module's, in
                    # run-time order: count the module's as read.
                    refs.add(chain)
                    break
                s = s.parent  # functions nested in a class do not see its names
                continue
            if name in s.declared_nonlocal:
                s = s.parent
                continue
            if name in s.bound:
                imported = s.imported.get(name)
                if imported is not None:
                    refs.add((FROM_IMPORT, *imported, *chain[1:]))
                break
            s = s.parent
    return refs


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        type(statement) is ast.Expr
        and type(statement.value) is ast.Constant
        and isinstance(statement.value.value, str)
    )
