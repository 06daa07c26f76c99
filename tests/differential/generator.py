"""A seeded random project of CSV sources, Python and SQL assets, and random edits of it.

Every table asset has the columns ``k`` (text) and ``v`` (an integer kept
small by ``% 1000003``), so any table can feed any asset. A :class:`Model` is
the project as data; :meth:`Model.render` writes it as files, and
:func:`apply_edit` changes it the way a user would: semantic and cosmetic edits
of assets, helpers and constants, source data changed, reordered or touched,
assets added, deleted and renamed, SQL reformatted, commented and changed.
Issue 20's constructs are drawn too: multi-output assets (``outputs=``, each
output an asset others read), run-time settings in ``pyproject.toml`` read as
parameters, exports (``out/<asset>.csv``) and warn ``@check`` functions; their
edits change a setting, delete an export, change a check's threshold and edit a
multi-output asset. The runner also compares exported files and each check's
latest verdict with the build from scratch.

Everything is drawn from ``random.Random(seed)`` (and a second generator seeded
from its state) and iterates over lists
and sorted keys only, so a seed replays exactly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from .constructs import KINDS, Construct, dots, new_construct, stylize

LIBS = ("_lib0", "_lib1", "_lib2")  # _libN imports only from higher N: no cycles
MODULES = ("m0", "m1", "m2", "sub.m3")  # sub.m3: assets/sub/m3.py, group "sub"
ACCESS = ("from", "alias", "module", "module_alias", "star")
LETTERS = "abcde"
MOD = 1000003

PY_HEADER = """\
import collections
import functools
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction
"""
ASSET_HEADER = """\
import pyarrow as pa

from assetflow import asset, check
"""
SCHEMA = 'SCHEMA = pa.schema([("k", pa.string()), ("v", pa.int64())])\n'


@dataclass(slots=True)
class PyAsset:
    name: str
    module: str
    upstream: list[str]
    uses: list[tuple[int, str]]  # construct id, access: local, from, alias, module, star
    bias: int
    scalar: bool = False  # returns a dict (stored as JSON), so no asset reads it
    shadow: bool = False  # a nested function's parameter shadows a global it reads
    style: int = 0
    # Issue 20 constructs, drawn from Model.rng2 so that older seeds keep their edits:
    outputs: int = 0  # >0: @asset(outputs=[...]), one OutAsset per output
    setting: str = ""  # a run-time setting it receives as a parameter
    export: bool = False  # @asset(exports="out/<name>.csv")
    check_min: int = -1  # >=0: a warn @check "num_rows >= check_min" on it


@dataclass(slots=True)
class OutAsset:
    """One output of a multi-output Python asset: declared by its parent, not rendered."""

    name: str
    parent: str
    index: int

    @property
    def upstream(self) -> list[str]:
        return [self.parent]


@dataclass(slots=True)
class SqlAsset:
    name: str
    template: str
    upstream: list[str]
    params: dict[str, int]
    shadow_name: str = ""  # the CTE's name in ``cte_shadow``: another asset's
    style: int = 0
    comments: int = 0

    @property
    def ordered(self) -> bool:
        return self.template == "ordered"


Asset = PyAsset | SqlAsset | OutAsset

# Literals DuckDB types differently (DECIMAL(1,1), DECIMAL(2,1), DOUBLE, ...).
LITERALS = (".5", "0.5", "0.50", "5.", "5.0", "5", "1e1", "10.0", "5::DOUBLE", "CAST(5 AS DOUBLE)")
AGGREGATES = ("sum", "max", "min", "count")
SQL_TEMPLATES: dict[str, tuple[int, dict[str, tuple[int, int]]]] = {
    # name: (upstreams, parameter ranges)
    "filter": (1, {"a": (1, 5), "b": (0, 30)}),
    "aggregate": (1, {"c": (0, 3)}),
    "join": (2, {"a": (0, 3)}),
    "cte_shadow": (1, {"a": (0, 9), "b": (0, 30)}),
    "subquery": (1, {"a": (0, 9), "b": (0, 30)}),
    "subquery_in": (2, {"a": (0, 9)}),
    "union": (2, {"a": (0, 9), "c": (0, 1)}),
    "ordered": (1, {"a": (0, 9)}),
    "literal": (1, {"c": (0, len(LITERALS) - 1)}),
}


def sql_clauses(q: SqlAsset, ref: dict[str, str]) -> list[str]:
    """The query's clauses; ``ref`` spells each upstream (its case varies by style)."""
    p = q.params
    u = [ref[n] for n in q.upstream]
    t = q.template
    if t == "filter":
        return [f"SELECT k, (v * {p['a']}) % {MOD} AS v", f"FROM {u[0]}", f"WHERE v > {p['b']}"]
    if t == "aggregate":
        agg = AGGREGATES[p["c"]]
        return [f"SELECT k, CAST({agg}(v) AS BIGINT) AS v", f"FROM {u[0]}", "GROUP BY k"]
    if t == "join":
        return [
            f"SELECT t1.k, (t1.v + coalesce(t2.v, {p['a']})) % {MOD} AS v",
            f"FROM {u[0]} AS t1",
            f"LEFT JOIN (SELECT k, max(v) AS v FROM {u[1]} GROUP BY k) AS t2",
            "ON t1.k = t2.k",
        ]
    if t == "cte_shadow":
        s = q.shadow_name
        return [
            f"WITH {s} AS (SELECT k, v + {p['a']} AS v FROM {u[0]})",
            "SELECT k, v",
            f"FROM {s}",
            f"WHERE v >= {p['b']}",
        ]
    if t == "subquery":
        return [
            "SELECT k, v",
            f"FROM (SELECT k, v + {p['a']} AS v FROM {u[0]}) AS sub",
            f"WHERE v > {p['b']}",
        ]
    if t == "subquery_in":
        return [
            f"SELECT k, v + {p['a']} AS v",
            f"FROM {u[0]}",
            f"WHERE k IN (SELECT k FROM {u[1]} WHERE v > 10)",
        ]
    if t == "union":
        union = "UNION ALL" if p["c"] else "UNION"
        return [f"SELECT k, v FROM {u[0]}", union, f"SELECT k, v + {p['a']} AS v FROM {u[1]}"]
    if t == "ordered":
        return [f"SELECT k, v + {p['a']} AS v", f"FROM {u[0]}", "ORDER BY v DESC, k"]
    assert t == "literal", t
    return [f"SELECT k, v, {LITERALS[p['c']]} AS w", f"FROM {u[0]}"]


_KEYWORDS = re.compile(
    r"\b(SELECT|FROM|WHERE|GROUP BY|ORDER BY|LEFT JOIN|ON|AS|WITH|UNION|ALL|CAST|BIGINT|"
    r"DESC|IN|DOUBLE|sum|max|min|count|coalesce)\b",
    re.IGNORECASE,
)


def render_sql(q: SqlAsset) -> str:
    """The file text: clauses joined, keyword case and comments chosen by the style."""
    rng = random.Random(q.style)
    upper_refs = q.style and rng.random() < 0.3
    ref = {n: n.upper() if upper_refs else n for n in q.upstream}
    clauses = sql_clauses(q, ref)
    sep = rng.choice([" ", "\n", "\n  ", "\n    "]) if q.style else "\n"
    case = rng.choice(["upper", "lower", "title"]) if q.style else "upper"
    if case != "upper":
        clauses = [
            _KEYWORDS.sub(lambda m: m[0].lower() if case == "lower" else m[0].title(), c)
            for c in clauses
        ]
    lines: list[str] = []
    crng = random.Random(q.comments)
    if q.comments and crng.random() < 0.6:
        lines.append(f"-- reviewed {q.comments % 1000} times")
    body = []
    for clause in clauses:
        if q.comments and crng.random() < 0.3:
            clause = f"/* part {crng.randint(1, 9)} */ {clause}"
        if q.comments and "\n" in sep and crng.random() < 0.3:
            clause = f"{clause} -- note {crng.randint(1, 9)}"
        body.append(clause)
    text = sep.join(body)
    if sep == " " and any(" -- " in b for b in body):  # a line comment would eat the rest
        text = "\n".join(body)
    lines.append(text)
    return "\n".join(lines) + "\n"


@dataclass(slots=True)
class Model:
    """A generated project as data."""

    sources: dict[str, list[tuple[str, int]]]
    parts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # data/parts/*.csv
    constructs: dict[int, Construct] = field(default_factory=dict)
    assets: dict[str, Asset] = field(default_factory=dict)  # in dependency order
    module_style: dict[str, int] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    next_id: int = 0
    settings: dict[str, int] = field(default_factory=dict)  # [tool.assetflow.settings]
    rng2: random.Random = field(default_factory=random.Random)  # issue 20's constructs

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def tables(self) -> list[str]:
        """Names whose value is a table: sources and non-scalar assets."""
        names = self.source_names()
        names += [
            n
            for n, a in self.assets.items()
            if not (isinstance(a, PyAsset) and (a.scalar or a.outputs))
        ]
        return names

    def source_names(self) -> list[str]:
        return [*self.sources, *(["parts"] if self.parts else [])]

    def source_text(self, name: str, files: dict[str, str]) -> str:
        """What a source's version stands for: its file, or its files and their names."""
        if name != "parts":
            return files[f"data/{name}.csv"]
        return "".join(f"{k}\0{files[k]}" for k in sorted(files) if k.startswith("data/parts/"))

    def readers(self, name: str) -> list[str]:
        return [n for n, a in self.assets.items() if name in a.upstream]

    def leaves(self) -> list[str]:
        # An output goes with its asset's `outputs`: never deleted or renamed alone.
        return [
            n for n, a in self.assets.items() if not self.readers(n) and not isinstance(a, OutAsset)
        ]

    def describe(self, name: str) -> str:
        """How asset ``name`` is written, for a failure message."""
        a = self.assets[name]
        if isinstance(a, OutAsset):
            return f"output {a.index} of {a.parent}: {self.describe(a.parent)}"
        if isinstance(a, SqlAsset):
            return f"sql {a.template} reading {', '.join(a.upstream)}"
        uses = []
        for cid, access in a.uses:
            c = self.constructs[cid]
            aux = f", reading {c.aux} via {c.aux_access}" if c.aux else ""
            uses.append(f"{c.kind} #{cid} from {c.home} ({access}{aux})")
        shadow = "; a nested function's parameter shadows the first" if a.shadow else ""
        return f"python in {a.module} using {', '.join(uses)}{shadow}"

    def render(self) -> dict[str, str]:
        """Every file of the project, by path relative to the root."""
        files = {"pyproject.toml": '[tool.assetflow]\nassets = "assets"\n'}
        if self.settings:
            files["pyproject.toml"] += "\n[tool.assetflow.settings]\n" + "".join(
                f"{n} = {v}\n" for n, v in sorted(self.settings.items())
            )
        for name, rows in self.sources.items():
            files[f"data/{name}.csv"] = "k,v\n" + "".join(f"{k},{v}\n" for k, v in rows)
        for stem, rows in self.parts.items():
            files[f"data/parts/{stem}.csv"] = "k,v\n" + "".join(f"{k},{v}\n" for k, v in rows)
        declared = [f'{n} = source("data/{n}.csv")\n' for n in self.sources]
        if self.parts:
            declared.append('parts = source("data/parts/*.csv")\n')
        files["assets/sources.py"] = "from assetflow import source\n\n" + "".join(declared)
        for lib in LIBS:
            files[f"assets/{lib}.py"] = self._module(lib, [])
        for module in MODULES:
            mine = [a for a in _py_assets(self) if a.module == module]
            if mine or any(c.home == module for c in self.constructs.values()):
                files[f"assets/{module.replace('.', '/')}.py"] = self._module(module, mine)
        for a in self.assets.values():
            if isinstance(a, SqlAsset):
                files[f"assets/{a.name}.sql"] = render_sql(a)
        return files

    def _module(self, module: str, assets: list[PyAsset]) -> str:
        homed = [c for c in self.constructs.values() if c.home == module]
        imports = sorted(
            {line for c in homed for line in c.home_imports()}
            | {line for a in assets for line in self._use_imports(a)}
        )
        parts = [_module_doc(module, self.module_style.get(module, 0)), PY_HEADER]
        if assets or module in MODULES:
            parts.append(ASSET_HEADER)
        if imports:
            parts.append("\n".join(imports) + "\n")
        if assets or module in MODULES:
            parts.append(SCHEMA)
        parts += [c.defs() for c in homed]
        parts += [c.aux_defs() for c in self.constructs.values() if c.aux == module]
        parts += [self._asset_text(a) for a in assets]
        return "\n\n".join(p for p in parts if p)

    def _use_imports(self, a: PyAsset) -> list[str]:
        lines = []
        for cid, access in a.uses:
            c = self.constructs[cid]
            if access == "local":
                continue
            d = dots(a.module)
            lines.append(
                {
                    "from": f"from {d}{c.home} import {c.entry}",
                    "alias": f"from {d}{c.home} import {c.entry} as {c.entry}_al",
                    "module": f"from {d} import {c.home}",
                    "module_alias": f"from {d} import {c.home} as {c.home[1:]}_al",
                    "star": f"from {d}{c.home} import *",
                }[access]
            )
        return lines

    def qualified(self, cid: int, access: str) -> str:
        c = self.constructs[cid]
        if access == "alias":
            return f"{c.entry}_al"
        if access == "module":
            return f"{c.home}.{c.entry}"
        if access == "module_alias":
            return f"{c.home[1:]}_al.{c.entry}"
        return c.entry

    def _asset_text(self, a: PyAsset) -> str:
        expr = f"v + {a.bias}"
        for cid, access in a.uses:
            expr = self.constructs[cid].expr(expr, self.qualified(cid, access))
        options = []
        if a.outputs:
            outs = ", ".join(f'"{n}"' for n in output_names(a))
            options.append(f"outputs=[{outs}]")
        if a.export:
            options.append(f'exports="out/{a.name}.csv"')
        params = [*a.upstream, *([a.setting] if a.setting else [])]
        if a.setting:
            expr = f"({expr}) + {a.setting}"
        decorator = f"@asset({', '.join(options)})" if options else "@asset"
        lines = [decorator, f"def {a.name}({', '.join(params)}):"]
        if a.shadow:
            # The parameter is named like a global the function reads.
            shadowed = self.qualified(*a.uses[0]).split(".")[0]
            lines += [f"    def tweak({shadowed}):", f"        return {shadowed} + 1", ""]
            expr = f"({expr}) + tweak(1)"
        ups = ", ".join(a.upstream) + ","
        rows = 'zip(t.column("k").to_pylist(), t.column("v").to_pylist())'
        if a.scalar:
            lines += [
                "    total = 0",
                "    count = 0",
                f"    for t in ({ups}):",
                f"        for k, v in {rows}:",
                "            v = int(v)",
                "            count += 1",
                f"            total += int({expr})",
                f'    return {{"rows": count, "total": total % {MOD}}}',
            ]
        else:
            lines += [
                "    out_k, out_v = [], []",
                f"    for t in ({ups}):",
                f"        for k, v in {rows}:",
                "            v = int(v)",
                "            out_k.append(k)",
                f"            out_v.append(int({expr}) % {MOD})",
            ]
            if a.outputs:
                lines.append(
                    '    return tuple(pa.table({"k": out_k, "v": [(x + j) % '
                    f"{MOD} for x in out_v]}}, schema=SCHEMA) for j in range({a.outputs}))"
                )
            else:
                lines.append('    return pa.table({"k": out_k, "v": out_v}, schema=SCHEMA)')
        if a.check_min >= 0:
            lines += [
                "",
                "",
                f'@check("{a.name}", severity="warn")',
                f"def rows_{a.name}(t):",
                f"    return t.num_rows >= {a.check_min}",
            ]
        return stylize("\n".join(lines) + "\n", a.style)


def _module_doc(module: str, style: int) -> str:
    if not style:
        return ""
    rng = random.Random(style)
    lines = [f'"""Module {module}, revision {style % 1000}."""']
    lines += [f"# note {rng.randint(1, 99)}"] * rng.randint(0, 3)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- generation


def generate(rng: random.Random) -> Model:
    """A new project: 2-3 sources and 6-10 assets."""
    sources = {f"src{j}": _rows(rng) for j in range(rng.randint(2, 3))}
    # Issue 20's constructs draw from a second generator seeded from the first's state
    # (read, not advanced), so that every older seed keeps its project and its edits.
    model = Model(sources=sources, rng2=random.Random(repr(rng.getstate()[1][:8])))
    if rng.random() < 0.5:
        model.parts = {f"part{j}": _rows(rng) for j in range(rng.randint(1, 2))}
    for _ in range(rng.randint(6, 10)):
        add_asset(model, rng)
    return model


def _rows(rng: random.Random) -> list[tuple[str, int]]:
    return [(rng.choice(LETTERS), rng.randint(0, 50)) for _ in range(rng.randint(4, 8))]


def add_asset(model: Model, rng: random.Random, name: str = "") -> str:
    """Add a Python or SQL asset reading existing tables; return its description."""
    if rng.random() < 0.55:
        a: Asset = _new_py_asset(model, rng, name)
    else:
        a = _new_sql_asset(model, rng, name)
    model.assets[a.name] = a
    if isinstance(a, PyAsset):
        _issue20_extras(model, a)
    kind = "python" if isinstance(a, PyAsset) else f"sql {a.template}"
    return f"{kind} asset {a.name}({', '.join(a.upstream)})"


def output_names(a: PyAsset) -> list[str]:
    return [f"{a.name}_o{j}" for j in range(a.outputs)]


def _issue20_extras(model: Model, a: PyAsset) -> None:
    """Multi-output, a setting, an export, a check: drawn from ``rng2`` only."""
    r = model.rng2
    if not a.scalar and r.random() < 0.2:
        a.outputs = r.randint(2, 3)
        for j, out in enumerate(output_names(a)):
            model.assets[out] = OutAsset(out, a.name, j)
    if r.random() < 0.25:
        if not model.settings or r.random() < 0.3:
            model.settings[f"s{len(model.settings)}"] = r.randint(0, 9)
        a.setting = r.choice(sorted(model.settings))
    if not a.scalar and not a.outputs and r.random() < 0.2:
        a.export = True
    if not a.scalar and not a.outputs and r.random() < 0.25:
        a.check_min = r.randint(0, 20)  # rows: 4-16 or so, so edits flip verdicts


def _upstream(model: Model, rng: random.Random, count: int) -> list[str]:
    tables = model.tables()
    return [rng.choice(tables) for _ in range(count)] if count > 1 else [rng.choice(tables)]


def _new_py_asset(model: Model, rng: random.Random, name: str) -> PyAsset:
    name = name or f"p{model.new_id()}"
    module = rng.choice(MODULES)
    ups = sorted(set(_upstream(model, rng, rng.randint(1, 2))))
    uses = []
    for _ in range(rng.randint(1, 2)):
        reusable = [c for c in model.constructs.values() if c.home == module or c.home in LIBS]
        if reusable and rng.random() < 0.3:
            c = rng.choice(reusable)
        else:
            c = _new_construct(model, rng, module)
        access = "local" if c.home == module else rng.choice(ACCESS)
        uses.append((c.cid, access))
        c.users.append(name)
    return PyAsset(
        name=name,
        module=module,
        upstream=ups,
        uses=uses,
        bias=rng.randint(0, 9),
        scalar=rng.random() < 0.15,
        shadow=rng.random() < 0.2,
    )


def _new_construct(model: Model, rng: random.Random, module: str) -> Construct:
    kind = rng.choice(sorted(KINDS))
    home = module if rng.random() < 0.4 else rng.choice(LIBS)
    if KINDS[kind].aux and home == LIBS[-1]:
        home = module
    c = new_construct(rng, kind, model.new_id(), home)
    if KINDS[kind].aux:
        later = LIBS[LIBS.index(home) + 1 :] if home in LIBS else LIBS
        c.aux = rng.choice(later)
        c.aux_access = rng.choice(["from", "module", "star"])
    model.constructs[c.cid] = c
    return c


def _new_sql_asset(model: Model, rng: random.Random, name: str) -> SqlAsset:
    name = name or f"q{model.new_id()}"
    template = rng.choice(sorted(SQL_TEMPLATES))
    count, ranges = SQL_TEMPLATES[template]
    ups = _upstream(model, rng, count)
    params = {n: rng.randint(low, high) for n, (low, high) in ranges.items()}
    others = [n for n in [*model.source_names(), *model.assets] if n not in ups]
    shadow = rng.choice(others) if others else "shadowed"
    return SqlAsset(name=name, template=template, upstream=ups, params=params, shadow_name=shadow)


# ---------------------------------------------------------------- edits


@dataclass(frozen=True, slots=True)
class Edit:
    kind: str  # the summary's row: "construct semantic", "sql reformat", ...
    detail: str  # "bound_default #5 in _lib1: a: 3 → 7"
    touch: str = ""  # a file whose modification time alone changes
    racy: bool = False  # files rewritten with their mtime just after a run read them
    delete: str = ""  # a file the edit deletes that the model does not render (an export)


def apply_edit(model: Model, rng: random.Random) -> Edit:
    """Change the model as one random user edit would."""
    if model.rng2.random() < 0.25:
        kind = model.rng2.choice(sorted(_ISSUE20_EDITS))
        detail = _ISSUE20_EDITS[kind](model, model.rng2)
        if detail is not None:
            delete = detail.removeprefix("delete ") if kind == "export deleted" else ""
            return Edit(kind, detail, delete=delete)
    while True:
        kind = rng.choices(EDIT_KINDS, weights=[w for _, w in _EDITS])[0]
        detail = _EDIT_FUNCTIONS[kind](model, rng)
        if detail is not None:
            touch = detail.removeprefix("touch ") if kind == "source touch" else ""
            return Edit(kind, detail, touch, racy=kind.endswith("racy rewrite"))


def _used_constructs(model: Model) -> list[Construct]:
    live = set(model.assets)
    return [c for c in model.constructs.values() if any(u in live for u in c.users)]


def _construct_semantic(model: Model, rng: random.Random) -> str | None:
    used = _used_constructs(model)
    if not used:
        return None
    c = rng.choice(used)
    return f"{c.kind} #{c.cid} in {c.home}: {c.edit_param(rng)}"


def _construct_racy_rewrite(model: Model, rng: random.Random) -> str | None:
    detail = _construct_semantic(model, rng)
    return None if detail is None else f"{detail}, same mtime"


def _construct_cosmetic(model: Model, rng: random.Random) -> str | None:
    used = _used_constructs(model)
    if not used:
        return None
    c = rng.choice(used)
    c.style = rng.randint(1, 10**6)
    return f"{c.kind} #{c.cid} in {c.home}: style {c.style}"


def _construct_moved(model: Model, rng: random.Random, edited: bool = False) -> str | None:
    used = _used_constructs(model)
    if not used:
        return None
    c = rng.choice(used)
    users = [a for a in _py_assets(model) if any(cid == c.cid for cid, _ in a.uses)]
    homes = list(LIBS)
    if len({a.module for a in users}) == 1:
        homes.append(users[0].module)
    if KINDS[c.kind].aux:
        homes = [h for h in homes if h not in LIBS or LIBS.index(h) < LIBS.index(c.aux)]
    homes = [h for h in homes if h != c.home]
    if not homes:
        return None
    old, c.home = c.home, rng.choice(homes)
    for a in users:
        a.uses = [
            (cid, ("local" if c.home == a.module else rng.choice(ACCESS)) if cid == c.cid else acc)
            for cid, acc in a.uses
        ]
    change = f", {c.edit_param(rng)}" if edited else ""
    return f"{c.kind} #{c.cid} moved from {old} to {c.home}{change}"


def _construct_moved_edited(model: Model, rng: random.Random) -> str | None:
    return _construct_moved(model, rng, edited=True)


def _asset_moved(model: Model, rng: random.Random) -> str | None:
    """A Python asset moves to another module, the same code."""
    candidates = []
    for a in _py_assets(model):
        for module in MODULES:
            homes = [model.constructs[cid].home for cid, _ in a.uses]
            if module != a.module and all(h in LIBS or h == module for h in homes):
                candidates.append((a, module))
    if not candidates:
        return None
    a, module = rng.choice(candidates)
    old, a.module = a.module, module
    a.uses = [
        (cid, "local" if model.constructs[cid].home == module else rng.choice(ACCESS))
        for cid, _ in a.uses
    ]
    return f"{a.name} moved from {old} to {module}"


def _py_assets(model: Model) -> list[PyAsset]:
    return [a for a in model.assets.values() if isinstance(a, PyAsset)]


def _sql_assets(model: Model, template: str = "") -> list[SqlAsset]:
    found = [a for a in model.assets.values() if isinstance(a, SqlAsset)]
    return [a for a in found if a.template == template] if template else found


def _asset_semantic(model: Model, rng: random.Random) -> str | None:
    if not (found := _py_assets(model)):
        return None
    a = rng.choice(found)
    old, a.bias = a.bias, rng.choice([b for b in range(10) if b != a.bias])
    return f"{a.name} in {a.module}: bias {old} → {a.bias}"


def _asset_cosmetic(model: Model, rng: random.Random) -> str | None:
    if not (found := _py_assets(model)):
        return None
    a = rng.choice(found)
    a.style = rng.randint(1, 10**6)
    return f"{a.name} in {a.module}: style {a.style}"


def _module_cosmetic(model: Model, rng: random.Random) -> str:
    module = rng.choice([*LIBS, *MODULES])
    model.module_style[module] = rng.randint(1, 10**6)
    return f"{module}: header {model.module_style[module]}"


def _sql_semantic(model: Model, rng: random.Random) -> str | None:
    found = [a for a in _sql_assets(model) if a.template != "literal"]
    if not found:
        return None
    q = rng.choice(found)
    name = rng.choice(sorted(q.params))
    low, high = SQL_TEMPLATES[q.template][1][name]
    old = q.params[name]
    q.params[name] = rng.choice([v for v in range(low, high + 1) if v != old])
    return f"{q.name} ({q.template}): {name}: {old} → {q.params[name]}"


def _sql_literal(model: Model, rng: random.Random) -> str | None:
    if not (found := _sql_assets(model, "literal")):
        return None
    q = rng.choice(found)
    old = q.params["c"]
    q.params["c"] = rng.choice([c for c in range(len(LITERALS)) if c != old])
    return f"{q.name}: literal {LITERALS[old]} → {LITERALS[q.params['c']]}"


def _sql_reformat(model: Model, rng: random.Random) -> str | None:
    if not (found := _sql_assets(model)):
        return None
    q = rng.choice(found)
    q.style = rng.randint(1, 10**6)
    return f"{q.name}: style {q.style}"


def _sql_comment(model: Model, rng: random.Random) -> str | None:
    if not (found := _sql_assets(model)):
        return None
    q = rng.choice(found)
    q.comments = rng.randint(1, 10**6)
    return f"{q.name}: comments {q.comments}"


def _sql_upstream(model: Model, rng: random.Random) -> str | None:
    if not (found := _sql_assets(model)):
        return None
    q = rng.choice(found)
    position = list(model.assets).index(q.name)
    earlier = [
        *model.source_names(),
        *[n for n in list(model.assets)[:position] if n in model.tables()],
    ]
    i = rng.randrange(len(q.upstream))
    old = q.upstream[i]
    choices = [n for n in earlier if n not in (old, q.shadow_name)]
    if not choices:
        return None
    q.upstream[i] = rng.choice(choices)
    return f"{q.name}: reads {q.upstream[i]} instead of {old}"


def _source_change(model: Model, rng: random.Random) -> str:
    name = rng.choice(sorted(model.sources))
    rows = model.sources[name]
    i = rng.randrange(len(rows))
    k, v = rows[i]
    rows[i] = (k, rng.choice([x for x in range(51) if x != v]))
    return f"{name} row {i}: {k},{v} → {rows[i][0]},{rows[i][1]}"


def _source_racy_rewrite(model: Model, rng: random.Random) -> str:
    """A value changes for one of as many digits: the file keeps its size."""
    name = rng.choice(sorted(model.sources))
    rows = model.sources[name]
    i = rng.randrange(len(rows))
    k, v = rows[i]
    same_width = [x for x in range(51) if x != v and len(str(x)) == len(str(v))]
    rows[i] = (k, rng.choice(same_width))
    return f"data/{name}.csv row {i}: {k},{v} → {rows[i][0]},{rows[i][1]}, same mtime"


def _source_reorder(model: Model, rng: random.Random) -> str | None:
    name = rng.choice(sorted(model.sources))
    rows = model.sources[name]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    if shuffled == rows:
        return None
    model.sources[name] = shuffled
    return f"{name}: rows reordered"


def _source_add_row(model: Model, rng: random.Random) -> str:
    name = rng.choice(sorted(model.sources))
    row = (rng.choice(LETTERS), rng.randint(0, 50))
    model.sources[name].append(row)
    return f"{name}: row {row[0]},{row[1]} added"


def _glob_file_added(model: Model, rng: random.Random) -> str | None:
    if not model.parts:
        return None
    stem = f"part{model.new_id()}"
    model.parts[stem] = _rows(rng)
    return f"data/parts/{stem}.csv added"


def _glob_file_removed(model: Model, rng: random.Random) -> str | None:
    if len(model.parts) < 2:
        return None
    stem = rng.choice(sorted(model.parts))
    del model.parts[stem]
    return f"data/parts/{stem}.csv removed"


def _glob_file_changed(model: Model, rng: random.Random) -> str | None:
    if not model.parts:
        return None
    stem = rng.choice(sorted(model.parts))
    rows = model.parts[stem]
    i = rng.randrange(len(rows))
    k, v = rows[i]
    rows[i] = (k, rng.choice([x for x in range(51) if x != v]))
    return f"data/parts/{stem}.csv row {i}: {k},{v} → {rows[i][0]},{rows[i][1]}"


def _source_touch(model: Model, rng: random.Random) -> str:
    name = rng.choice(sorted(model.sources))
    return f"touch data/{name}.csv"


def _asset_add(model: Model, rng: random.Random) -> str:
    reuse = [n for n in model.deleted if n not in model.assets]
    name = rng.choice(reuse) if reuse and rng.random() < 0.4 else ""
    if name:
        model.deleted.remove(name)
    return add_asset(model, rng, name)


def _asset_delete(model: Model, rng: random.Random) -> str | None:
    leaves = model.leaves()
    if len(model.assets) < 3 or not leaves:
        return None
    name = rng.choice(leaves)
    del model.assets[name]
    model.deleted.append(name)
    return f"{name} deleted"


def _asset_rename(model: Model, rng: random.Random) -> str | None:
    if not (leaves := model.leaves()):
        return None
    old = rng.choice(leaves)
    a = model.assets.pop(old)
    prefix = "p" if isinstance(a, PyAsset) else "q"
    a.name = f"{prefix}{model.new_id()}"
    model.assets[a.name] = a
    for c in model.constructs.values():
        c.users = [a.name if u == old else u for u in c.users]
    model.deleted.append(old)
    return f"{old} renamed {a.name}"


def _setting_changed(model: Model, rng: random.Random) -> str | None:
    if not model.settings:
        return None
    name = rng.choice(sorted(model.settings))
    old = model.settings[name]
    model.settings[name] = rng.choice([v for v in range(10) if v != old])
    return f"setting {name}: {old} → {model.settings[name]}"


def _export_deleted(model: Model, rng: random.Random) -> str | None:
    found = [a for a in _py_assets(model) if a.export]
    if not found:
        return None
    return f"delete out/{rng.choice(found).name}.csv"


def _check_changed(model: Model, rng: random.Random) -> str | None:
    found = [a for a in _py_assets(model) if a.check_min >= 0]
    if not found:
        return None
    a = rng.choice(found)
    old, a.check_min = a.check_min, rng.choice([n for n in range(21) if n != a.check_min])
    return f"check rows_{a.name}: num_rows >= {old} → {a.check_min}"


def _outputs_edited(model: Model, rng: random.Random) -> str | None:
    found = [a for a in _py_assets(model) if a.outputs]
    if not found:
        return None
    a = rng.choice(found)
    old, a.bias = a.bias, rng.choice([b for b in range(10) if b != a.bias])
    return f"{a.name} (outputs {', '.join(output_names(a))}): bias {old} → {a.bias}"


_ISSUE20_EDITS = {
    "setting changed": _setting_changed,
    "export deleted": _export_deleted,
    "check changed": _check_changed,
    "multi-output edited": _outputs_edited,
}

_EDITS: list[tuple[str, float]] = [
    ("construct semantic", 5),
    ("construct cosmetic", 3),
    ("construct racy rewrite", 1),
    ("construct moved", 1),
    ("construct moved+edited", 1),
    ("asset semantic", 1.5),
    ("asset cosmetic", 1.5),
    ("module cosmetic", 1),
    ("sql semantic", 2),
    ("sql literal", 1),
    ("sql reformat", 1.5),
    ("sql comment", 1),
    ("sql upstream", 0.7),
    ("source change", 1),
    ("source reorder", 0.7),
    ("source add row", 0.5),
    ("source touch", 0.7),
    ("source racy rewrite", 1.2),
    ("glob file added", 0.5),
    ("glob file removed", 0.4),
    ("glob file changed", 0.5),
    ("asset added", 1),
    ("asset deleted", 0.7),
    ("asset renamed", 0.7),
    ("asset moved", 0.7),
]
EDIT_KINDS = [k for k, _ in _EDITS]
_EDIT_FUNCTIONS = {
    "construct semantic": _construct_semantic,
    "construct cosmetic": _construct_cosmetic,
    "construct racy rewrite": _construct_racy_rewrite,
    "construct moved": _construct_moved,
    "construct moved+edited": _construct_moved_edited,
    "asset semantic": _asset_semantic,
    "asset cosmetic": _asset_cosmetic,
    "module cosmetic": _module_cosmetic,
    "sql semantic": _sql_semantic,
    "sql literal": _sql_literal,
    "sql reformat": _sql_reformat,
    "sql comment": _sql_comment,
    "sql upstream": _sql_upstream,
    "source change": _source_change,
    "source reorder": _source_reorder,
    "source add row": _source_add_row,
    "source touch": _source_touch,
    "source racy rewrite": _source_racy_rewrite,
    "glob file added": _glob_file_added,
    "glob file removed": _glob_file_removed,
    "glob file changed": _glob_file_changed,
    "asset added": _asset_add,
    "asset deleted": _asset_delete,
    "asset renamed": _asset_rename,
    "asset moved": _asset_moved,
}
