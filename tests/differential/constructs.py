"""The Python building blocks of generated assets, rendered as source text.

A construct is a piece of module-level code (a constant, a helper, a class, a
lambda, ...) that an asset's expression reaches through one name, its *entry*.
Each kind lists its integer parameters (a semantic edit changes one) and how it
turns an int expression ``x`` into another; a cosmetic style (comments, blank
lines, docstrings, spacing) changes its text but never its value.

The kinds cover what a code version must follow: plain and non-plain constants,
helpers calling helpers, methods, bound defaults, lambdas and lambda defaults,
closures, parameters of nested functions shadowing module names, project-local
decorators with and without ``functools.wraps``, ``functools.partial`` and
callable instances.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Kind:
    """How one kind of construct is written."""

    params: dict[str, tuple[int, int]]  # name -> inclusive range
    defs: str  # module-level code; {i} is the construct's id, params by name
    entry: str  # the name the asset's expression reads
    expr: str  # {x}: the inner int expression, {e}: the (qualified) entry
    aux: str = ""  # code placed in another project module, read by ``defs`` as {aux}NAME
    aux_name: str = "OFF_{i}"  # the name ``aux`` defines
    import_inside: bool = False  # ``defs`` imports the aux name itself, inside a function


KINDS: dict[str, Kind] = {
    "const_int": Kind({"a": (2, 9)}, "FACTOR_{i} = {a}\n", "FACTOR_{i}", "({x}) * {e}"),
    "const_str": Kind({"a": (1, 6)}, 'LABEL_{i} = "{a_str}"\n', "LABEL_{i}", "({x}) + len({e})"),
    "const_tuple": Kind(
        {"a": (0, 5), "b": (1, 5)},
        "WEIGHTS_{i} = (1, {a}, {b})\n",
        "WEIGHTS_{i}",
        "({x}) * sum({e})",
    ),
    "const_dict": Kind(
        {"a": (0, 9), "b": (0, 9)},
        'BONUS_{i} = {{"a": {a}, "c": {b}}}\n',
        "BONUS_{i}",
        "({x}) + {e}.get(k, 1)",
    ),
    "fraction": Kind(
        {"a": (1, 9), "b": (1, 4)},
        "RATIO_{i} = Fraction({a}, {b})\n",
        "RATIO_{i}",
        "int(({x}) * {e})",
    ),
    "decimal": Kind(
        {"a": (1, 3), "b": (0, 9)},
        'RATE_{i} = Decimal("{a}.{b}")\n',
        "RATE_{i}",
        "int(({x}) * {e})",
    ),
    "dataclass": Kind(
        {"a": (1, 5), "b": (0, 9)},
        "@dataclass(frozen=True)\nclass Cfg_{i}:\n    mult: int\n    add: int = {b}\n\n\n"
        "CFG_{i} = Cfg_{i}({a})\n",
        "CFG_{i}",
        "({x}) * {e}.mult + {e}.add",
    ),
    "frozenset": Kind(
        {"a": (0, 5), "b": (0, 5)},
        "PAIRS_{i} = frozenset({{(1, {a}), (2, {b})}})\n",
        "PAIRS_{i}",
        "({x}) + sum(p * q for p, q in {e})",
    ),
    "enum": Kind(
        {"a": (1, 4), "b": (5, 8), "c": (0, 1)},
        "class Mode_{i}(Enum):\n    LOW = {a}\n    HIGH = {b}\n\n\nMODE_{i} = Mode_{i}.{c_mode}\n",
        "MODE_{i}",
        "({x}) * {e}.value",
    ),
    "helper": Kind(
        {"a": (1, 5), "b": (0, 9)},
        "def scale_{i}(x):\n    return x * {a} + {b}\n",
        "scale_{i}",
        "{e}({x})",
    ),
    "helper_chain": Kind(
        {"a": (1, 5), "b": (0, 9)},
        "def outer_{i}(x):\n    return inner_{i}(x) + {b}\n\n\n"
        "def inner_{i}(x):\n    return x * K_{i}\n\n\nK_{i} = {a}\n",
        "outer_{i}",
        "{e}({x})",
    ),
    "cross_module": Kind(
        {"a": (0, 9)},
        "def shift_{i}(x):\n    return x + {aux}OFF_{i}\n",
        "shift_{i}",
        "{e}({x})",
        aux="OFF_{i} = {a}\n",
    ),
    "method": Kind(
        {"a": (1, 5), "b": (0, 9)},
        "class Scaler_{i}:\n    def __init__(self, m):\n        self.m = m\n\n"
        "    def apply(self, x):\n        return x * self.m + {b}\n\n\n"
        "SCALER_{i} = Scaler_{i}({a})\n",
        "SCALER_{i}",
        "{e}.apply({x})",
    ),
    "bound_default": Kind(
        {"a": (1, 9)},
        "FACTOR_{i} = {a}\n\n\ndef bound_{i}(x, factor=FACTOR_{i}):\n    return x * factor\n",
        "bound_{i}",
        "{e}({x})",
    ),
    "lambda_const": Kind(
        {"a": (1, 9)},
        "K_{i} = {a}\nfn_{i} = lambda x: x * K_{i}  # noqa: E731\n",
        "fn_{i}",
        "{e}({x})",
    ),
    "lambda_helper": Kind(
        {"a": (0, 9)},
        "def base_{i}(x):\n    return x + {a}\n\n\n"
        "fn_{i} = lambda x: base_{i}(x) * 2  # noqa: E731\n",
        "fn_{i}",
        "{e}({x})",
    ),
    "lambda_default": Kind(
        {"a": (0, 9)},
        "K_{i} = {a}\nfn_{i} = lambda x, k=K_{i}: x + k  # noqa: E731\n",
        "fn_{i}",
        "{e}({x})",
    ),
    "closure": Kind(
        {"a": (1, 5), "b": (0, 9)},
        "def make_{i}(k):\n    def inner(x):\n        return x * k + {b}\n\n    return inner\n\n\n"
        "fn_{i} = make_{i}({a})\n",
        "fn_{i}",
        "{e}({x})",
    ),
    "shadow_param": Kind(
        {"a": (1, 9), "b": (0, 9)},
        "K_{i} = {a}\n\n\ndef shadow_{i}(x):\n    def inner(K_{i}):\n        return x + K_{i}\n\n"
        "    return inner({b}) * K_{i}\n",
        "shadow_{i}",
        "{e}({x})",
    ),
    "shadow_lambda": Kind(
        {"a": (1, 9), "b": (0, 9)},
        "K_{i} = {a}\n\n\ndef shadow_{i}(x):\n    return (lambda K_{i}: x + K_{i})({b}) * K_{i}\n",
        "shadow_{i}",
        "{e}({x})",
    ),
    "shadow_comprehension": Kind(
        {"a": (1, 9)},
        "K_{i} = {a}\n\n\ndef shadow_{i}(x):\n    return sum(K_{i} for K_{i} in (x, 1)) * K_{i}\n",
        "shadow_{i}",
        "{e}({x})",
    ),
    "decorator_wraps": Kind(
        {"a": (0, 9), "b": (0, 9)},
        "def twice_{i}(fn):\n    @functools.wraps(fn)\n    def wrapper(x):\n"
        "        return fn(fn(x)) + {b}\n\n    return wrapper\n\n\n"
        "@twice_{i}\ndef bump_{i}(x):\n    return x + {a}\n",
        "bump_{i}",
        "{e}({x})",
    ),
    "decorator_plain": Kind(
        {"a": (0, 9), "b": (0, 9)},
        "def twice_{i}(fn):\n    def wrapper(x):\n        return fn(fn(x)) + {b}\n\n"
        "    return wrapper\n\n\n@twice_{i}\ndef bump_{i}(x):\n    return x + {a}\n",
        "bump_{i}",
        "{e}({x})",
    ),
    "lru_cache": Kind(
        {"a": (1, 9)},
        "@functools.lru_cache(maxsize=None)\ndef cached_{i}(x):\n    return x * {a} + 1\n",
        "cached_{i}",
        "{e}({x})",
    ),
    "partial": Kind(
        {"a": (1, 9), "b": (0, 9)},
        "def mul_{i}(a, x):\n    return a * x + {b}\n\n\n"
        "part_{i} = functools.partial(mul_{i}, {a})\n",
        "part_{i}",
        "{e}({x})",
    ),
    "callable": Kind(
        {"a": (0, 9), "b": (1, 3)},
        "class Adder_{i}:\n    def __init__(self, n):\n        self.n = n\n\n"
        "    def __call__(self, x):\n        return x + self.n * {b}\n\n\n"
        "add_{i} = Adder_{i}({a})\n",
        "add_{i}",
        "{e}({x})",
    ),
    "local_import": Kind(
        {"a": (0, 9)},
        "def local_{i}(x):\n    from {dots}{aux_module} import OFF_{i}\n\n    return x + OFF_{i}\n",
        "local_{i}",
        "{e}({x})",
        aux="OFF_{i} = {a}\n",
        import_inside=True,
    ),
    "cross_derived": Kind(
        {"a": (0, 9)},
        "DERIVED_{i} = {aux}BASE_{i} * 2 + 1\n",
        "DERIVED_{i}",
        "({x}) + {e}",
        aux="BASE_{i} = {a}\n",
        aux_name="BASE_{i}",
    ),
    "conditional_def": Kind(
        {"a": (1, 9), "b": (0, 9)},
        'if len("ab") == 2:\n\n    def cond_{i}(x):\n        return x * K_{i} + {b}\n\n'
        "else:\n\n    def cond_{i}(x):\n        return x\n\n\nK_{i} = {a}\n",
        "cond_{i}",
        "{e}({x})",
    ),
    "class_attr": Kind(
        {"a": (1, 9), "b": (0, 9)},
        "K_{i} = {a}\n\n\nclass Conf_{i}:\n    FACTOR = K_{i}\n\n"
        "    def apply(self, x):\n        return x * self.FACTOR + {b}\n",
        "Conf_{i}",
        "{e}().apply({x})",
    ),
    "staticmethod": Kind(
        {"a": (1, 9)},
        "class Tools_{i}:\n    @staticmethod\n    def scale(x):\n        return x * {a}\n",
        "Tools_{i}",
        "{e}.scale({x})",
    ),
    "default_helper": Kind(
        {"a": (0, 9)},
        "def inc_{i}(x):\n    return x + {a}\n\n\ndef apply_{i}(x, g=inc_{i}):\n"
        "    return g(x) * 2\n",
        "apply_{i}",
        "{e}({x})",
    ),
    "dict_dispatch": Kind(
        {"a": (0, 9)},
        "def double_{i}(x):\n    return x * 2 + {a}\n\n\n"
        'OPS_{i} = {{"double": double_{i}, "same": abs}}\n',
        "OPS_{i}",
        '{e}["double"]({x})',
    ),
    "computed_const": Kind(
        {"a": (0, 9)},
        "def compute_{i}():\n    return {a} * 3\n\n\nK_{i} = compute_{i}()\n",
        "K_{i}",
        "({x}) + {e}",
    ),
    "global_stmt": Kind(
        {"a": (0, 9)},
        "COUNTER_{i} = {a}\n\n\ndef read_{i}(x):\n    global COUNTER_{i}\n"
        "    return x + COUNTER_{i}\n",
        "read_{i}",
        "{e}({x})",
    ),
    "const_float": Kind({"a": (1, 4)}, "SCALE_{i} = {a}.5\n", "SCALE_{i}", "int(({x}) * {e})"),
    "const_bytes": Kind({"a": (1, 6)}, 'TAG_{i} = b"{a_str}"\n', "TAG_{i}", "({x}) + len({e})"),
    "const_complex": Kind(
        {"a": (1, 4)}, "Z_{i} = complex({a}, 1)\n", "Z_{i}", "int(({x}) * {e}.real)"
    ),
    "const_range": Kind({"a": (1, 6)}, "R_{i} = range({a})\n", "R_{i}", "({x}) + sum({e})"),
    "const_set": Kind({"a": (2, 9)}, "S_{i} = {{1, {a}}}\n", "S_{i}", "({x}) + sum({e})"),
    "namedtuple": Kind(
        {"a": (1, 5)},
        'Pair_{i} = collections.namedtuple("Pair_{i}", "p q")\nPAIR_{i} = Pair_{i}({a}, 2)\n',
        "PAIR_{i}",
        "({x}) * {e}.p + {e}.q",
    ),
    "try_import": Kind(
        {"a": (0, 9)},
        "try:\n    from {dots}{aux_module} import OFF_{i}\n"
        "except ImportError:\n    OFF_{i} = 0\n\n\n"
        "def tried_{i}(x):\n    return x + OFF_{i}\n",
        "tried_{i}",
        "{e}({x})",
        aux="OFF_{i} = {a}\n",
        import_inside=True,
    ),
    "inheritance": Kind(
        {"a": (0, 9)},
        "class Child_{i}({aux}Base_{i}):\n    def run(self, x):\n"
        "        return self.apply(x) * 2\n",
        "Child_{i}",
        "{e}().run({x})",
        aux="class Base_{i}:\n    def apply(self, x):\n        return x + {a}\n",
        aux_name="Base_{i}",
    ),
    "mutated_instance": Kind(
        {"a": (1, 9)},
        "class Box_{i}:\n    def __init__(self):\n        self.n = 1\n\n\n"
        "BOX_{i} = Box_{i}()\nBOX_{i}.n = {a}\n",
        "BOX_{i}",
        "({x}) * {e}.n",
    ),
    "mutated_dict": Kind(
        {"a": (0, 9), "b": (0, 9)},
        'TABLE_{i} = {{"a": 1}}\nTABLE_{i}["a"] = {a}\nTABLE_{i}.update(b={b})\n',
        "TABLE_{i}",
        '({x}) + {e}["a"] + {e}["b"]',
    ),
    "decorator_factory": Kind(
        {"a": (1, 4), "b": (0, 9)},
        "def times_{i}(n):\n    def deco(fn):\n        def wrapper(x):\n"
        "            return fn(x) * n\n\n        return wrapper\n\n    return deco\n\n\n"
        "@times_{i}({a})\ndef based_{i}(x):\n    return x + {b}\n",
        "based_{i}",
        "{e}({x})",
    ),
    "property": Kind(
        {"a": (1, 9)},
        "K_{i} = {a}\n\n\nclass Prop_{i}:\n    @property\n    def value(self):\n"
        "        return K_{i} * 2\n",
        "Prop_{i}",
        "({x}) + {e}().value",
    ),
    "generator": Kind(
        {"a": (0, 9)},
        "def gen_{i}(x):\n    yield x\n    yield {a}\n",
        "gen_{i}",
        "sum({e}({x}))",
    ),
    "match_stmt": Kind(
        {"a": (0, 9), "b": (0, 9)},
        "def pick_{i}(x):\n    match x % 2:\n        case 0:\n            return x + {a}\n"
        "        case _:\n            return x + {b}\n",
        "pick_{i}",
        "{e}({x})",
    ),
    "nested_default": Kind(
        {"a": (0, 9)},
        "K_{i} = {a}\n\n\ndef outer_{i}(x):\n    def inner(y, k=K_{i}):\n        return y + k\n\n"
        "    return inner(x)\n",
        "outer_{i}",
        "{e}({x})",
    ),
    "unpacking": Kind(
        {"a": (0, 9), "b": (0, 9)}, "A_{i}, B_{i} = {a}, {b}\n", "B_{i}", "({x}) + {e}"
    ),
    "loop_const": Kind(
        {"a": (0, 9)},
        "TOTAL_{i} = {a}\nfor _n in range(3):\n    TOTAL_{i} += _n\n",
        "TOTAL_{i}",
        "({x}) + {e}",
    ),
    "default_lambda": Kind(
        {"a": (1, 9)},
        "K_{i} = {a}\n\n\ndef via_{i}(x, g=lambda y: y * K_{i}):\n    return g(x)\n",
        "via_{i}",
        "{e}({x})",
    ),
    "kwonly_default": Kind(
        {"a": (0, 9)},
        "K_{i} = {a}\n\n\ndef kw_{i}(x, *, k=K_{i}):\n    return x + k\n",
        "kw_{i}",
        "{e}({x})",
    ),
    "dataclass_default": Kind(
        {"a": (1, 9)},
        "K_{i} = {a}\n\n\n@dataclass\nclass Opts_{i}:\n    mult: int = K_{i}\n",
        "Opts_{i}",
        "({x}) * {e}().mult",
    ),
    "import_rebind": Kind(
        {"a": (0, 9), "b": (0, 9)},
        "from {dots}{aux_module} import BASE_{i}\n\nBASE_{i} = BASE_{i} * 2 + {a}\n",
        "BASE_{i}",
        "({x}) + {e}",
        aux="BASE_{i} = {b}\n",
        import_inside=True,
    ),
    "derived_const": Kind(
        {"a": (0, 9), "b": (1, 4)},
        "BASE_{i} = {a}\nDERIVED_{i} = BASE_{i} * {b} + 1\n",
        "DERIVED_{i}",
        "({x}) + {e}",
    ),
    "augmented_const": Kind(
        {"a": (0, 9), "b": (0, 9)},
        "LIMIT_{i} = {a}\nLIMIT_{i} += {b}\n",
        "LIMIT_{i}",
        "({x}) + {e}",
    ),
}


@dataclass(slots=True)
class Construct:
    """One construct of a generated project, placed in a module."""

    kind: str
    cid: int
    home: str  # module stem it is defined in: "m0", "_lib1"
    params: dict[str, int]
    aux: str = ""  # for kinds with aux code: the module holding it
    aux_access: str = "from"  # how ``home`` reads the aux name: from, module, star
    style: int = 0  # 0: as written; else the seed of a cosmetic variation
    users: list[str] = field(default_factory=list)  # asset names that read it

    @property
    def entry(self) -> str:
        return KINDS[self.kind].entry.format(i=self.cid)

    def _values(self) -> dict[str, object]:
        p = self.params
        values: dict[str, object] = {"i": self.cid, **p}
        values["a_str"] = "x" * p.get("a", 1)
        values["c_mode"] = ("LOW", "HIGH")[p["c"]] if self.kind == "enum" else ""
        values["aux"] = f"{self.aux}." if self.aux_access == "module" else ""
        values["aux_module"] = self.aux
        values["dots"] = dots(self.home)
        return values

    def defs(self) -> str:
        """The code in ``home``, with its cosmetic style."""
        return stylize(KINDS[self.kind].defs.format(**self._values()), self.style)

    def aux_defs(self) -> str:
        """The code in ``aux`` (empty for most kinds)."""
        return stylize(KINDS[self.kind].aux.format(**self._values()), self.style)

    def home_imports(self) -> list[str]:
        """Import lines ``home`` needs to read the aux name."""
        kind = KINDS[self.kind]
        if not kind.aux or kind.import_inside:
            return []
        name = kind.aux_name.format(i=self.cid)
        d = dots(self.home)
        return [
            {
                "from": f"from {d}{self.aux} import {name}",
                "module": f"from {d} import {self.aux}",
                "star": f"from {d}{self.aux} import *",
            }[self.aux_access]
        ]

    def expr(self, x: str, entry: str) -> str:
        return KINDS[self.kind].expr.format(x=x, e=entry)

    def edit_param(self, rng: random.Random) -> str:
        """Change one parameter to another value; return ``"a: 3 → 5"``."""
        name = rng.choice(sorted(self.params))
        low, high = KINDS[self.kind].params[name]
        old = self.params[name]
        new = rng.choice([v for v in range(low, high + 1) if v != old])
        self.params[name] = new
        return f"{name}: {old} → {new}"


def dots(module: str) -> str:
    """The relative-import prefix of the assets folder, seen from ``module`` ("sub.m3")."""
    return "." * (module.count(".") + 1)


def new_construct(rng: random.Random, kind: str, cid: int, home: str) -> Construct:
    params = {n: rng.randint(low, high) for n, (low, high) in KINDS[kind].params.items()}
    return Construct(kind=kind, cid=cid, home=home, params=params)


def stylize(text: str, style: int) -> str:
    """``text`` with comments, blank lines, docstrings and spacing chosen by ``style``.

    The result parses to the same syntax tree apart from docstrings, so every
    value it computes is unchanged.
    """
    if not style or not text:
        return text
    rng = random.Random(style)
    out: list[str] = []
    if rng.random() < 0.5:
        out.append(f"# section {style % 97}")
    for line in text.splitlines():
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if stripped and rng.random() < 0.2:
            out.append(f"{indent}# why: step {rng.randint(1, 99)}")
        if stripped and rng.random() < 0.15:
            out.append("")
        if stripped and "#" not in line and rng.random() < 0.3:
            line = f"{line}  # {rng.choice(['keep', 'tuned', 'see notes', 'TODO later'])}"
        if rng.random() < 0.4:
            line = line.replace(" * ", "*", 1) if "import" not in line else line
        if rng.random() < 0.4:
            line = line.replace(" + ", "+", 1)
        out.append(line)
        if stripped.startswith(("def ", "class ")) and rng.random() < 0.5:
            out.append(f'{indent}    """Docstring {rng.randint(1, 999)}: does its job."""')
    return "\n".join(out) + "\n"
