"""Run a seed: edit, materialize incrementally, build from scratch, compare.

The CLI runs in this process through click's ``CliRunner`` (a subprocess per
run would cost more than the run). That is sound because:

* each load imports the asset files under a new package (``_assetflow_N``, see
  ``assetflow/project.py``), so an edited module is executed afresh; the
  packages a run imported are dropped from ``sys.modules`` after it;
* no bytecode is written (``sys.dont_write_bytecode`` here, and
  ``PYTHONDONTWRITEBYTECODE`` for the workers of ``--executor processes``), so
  no ``__pycache__`` can serve an older version of a rewritten file;
* every write sets the file's ``mtime_ns`` to a clock of its own that moves a
  whole second per write, as an editor's save would: assetflow's code-version
  and source caches trust (size, ``mtime_ns``) like git does. The clock starts
  a month in the past, so no file is "racy" (modified within two seconds of a
  run) and the caches are exercised as they are after a real user's edit.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from .generator import Edit, Model, PyAsset, SqlAsset, apply_edit, generate

MISSING = ("missing",)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """An asset whose incremental value differs from the from-scratch one."""

    seed: int
    step: int
    edit: Edit
    asset: str
    ran: bool  # whether the incremental run re-ran it
    expected: str
    got: str
    diff: str
    context: str = ""  # how the asset is written: its constructs and how it reaches them
    root: bool = True  # its upstream assets hold the right values: not a mere consequence

    def describe(self) -> str:
        action = "re-ran but" if self.ran else "was skipped and"
        if not self.root:
            action += " (an upstream differs too)"
        return (
            f"seed {self.seed}, edit {self.step} ({self.edit.kind}: {self.edit.detail}): "
            f"{self.asset} {action} holds\n    {self.got}\n  a build from scratch gives\n"
            f"    {self.expected}\n  {self.asset}: {self.context}\n"
            f"  replay: pytest tests/test_differential.py --seed {self.seed}"
            f"\n  files changed by the edit:\n{self.diff}"
        )


@dataclass(slots=True)
class KindCounts:
    """What the edits of one kind did."""

    edits: int = 0
    reruns: int = 0
    unnecessary: int = 0
    wrong_skips: int = 0
    examples: list[str] = field(default_factory=list)  # unnecessary re-runs, a few


@dataclass(slots=True)
class SeedReport:
    seed: int
    mismatches: list[Mismatch] = field(default_factory=list)
    kinds: dict[str, KindCounts] = field(default_factory=dict)


class _Clock:
    """Modification times a whole second apart, starting a month ago.

    With ``coarse``, the time of day truncated to the second instead, as a file
    system with one-second timestamps records it: an edit of the same size in
    the same second as the one before leaves size and mtime unchanged, and
    only the caches' "racy file" rule keeps them from trusting it.
    """

    def __init__(self, coarse: bool = False) -> None:
        self.coarse = coarse
        self.ns = (time.time_ns() // 10**9 - 30 * 86400) * 10**9

    def tick(self) -> int:
        if self.coarse:
            return time.time_ns() // 10**9 * 10**9
        self.ns += 10**9
        return self.ns


def write_files(
    root: Path,
    old: dict[str, str],
    new: dict[str, str],
    clock: _Clock,
    mtimes: dict[str, int] | None = None,
) -> None:
    """Make ``root`` hold ``new`` (it holds ``old``); each written file gets a new mtime.

    ``mtimes`` gives some files the mtime they must have instead.
    """
    for rel in sorted(set(old) - set(new)):
        (root / rel).unlink()
    for rel in sorted(new):
        if old.get(rel) == new[rel]:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new[rel])
        t = (mtimes or {}).get(rel) or clock.tick()
        os.utime(path, ns=(t, t))


def touch(path: Path, clock: _Clock) -> None:
    t = clock.tick()
    os.utime(path, ns=(t, t))


def file_diff(old: dict[str, str], new: dict[str, str]) -> str:
    lines: list[str] = []
    for rel in sorted(set(old) | set(new)):
        a, b = old.get(rel, ""), new.get(rel, "")
        if a != b:
            lines += difflib.unified_diff(
                a.splitlines(), b.splitlines(), f"a/{rel}", f"b/{rel}", lineterm="", n=1
            )
    return "\n".join(f"    {line}" for line in lines) or "    (no file changed)"


@contextmanager
def no_bytecode() -> Iterator[None]:
    """No ``__pycache__`` written while running: see the module docstring."""
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = saved


def materialize(root: Path, *args: str) -> dict[str, str]:
    """``assetflow materialize --format json`` in this process: each asset's outcome.

    Raises:
        AssertionError: the run did not succeed.
    """
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ASSETFLOW_")}
    env |= {"NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    from assetflow.cli import main

    before = set(sys.modules)
    importlib.invalidate_caches()
    try:
        result = CliRunner(env=env).invoke(
            main, ["materialize", "--project", str(root), "--format", "json", *args]
        )
    finally:
        for name in set(sys.modules) - before:
            if name.startswith("_assetflow_"):
                del sys.modules[name]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"materialize raised {result.exception!r}") from result.exception
    if result.exit_code != 0:
        raise AssertionError(
            f"materialize {' '.join(args)} exited {result.exit_code}:\n{result.stderr}\n"
            f"{result.stdout}"
        )
    doc = json.loads(result.stdout)
    return {a["name"]: a["outcome"] for a in doc["assets"]}


def stored_values(root: Path, model: Model) -> dict[str, Any]:
    """Each asset's current stored value, comparable across projects.

    Tables become their schema and their rows, sorted unless the query orders them.
    """
    from assetflow.state import StateStore
    from assetflow.storage import Storage

    state = root / ".assetflow"
    current = StateStore(state).snapshot().current
    storage = Storage(state)
    values: dict[str, Any] = {}
    for name, a in model.assets.items():
        m = current.get(name)
        if m is None:
            values[name] = MISSING
            continue
        value = storage.load(m.format or "", m.location, m.value)
        ordered = isinstance(a, SqlAsset) and a.ordered
        if isinstance(value, dict) and value and all(map(_is_table, value.values())):
            # A multi-output asset's value: its outputs by name.
            values[name] = tuple((k, _table(v, ordered)) for k, v in sorted(value.items()))
        elif _is_table(value):
            values[name] = _table(value, ordered)
        else:
            values[name] = ("value", json.dumps(value, sort_keys=True, default=repr))
    return values


def _is_table(value: Any) -> bool:
    return hasattr(value, "schema") and hasattr(value, "to_pylist")


def _table(value: Any, ordered: bool) -> tuple[Any, ...]:
    schema = tuple((f.name, str(f.type)) for f in value.schema)
    rows = [tuple(r.values()) for r in value.to_pylist()]
    return (schema, tuple(rows if ordered else sorted(rows, key=repr)))


def exported_files(root: Path, model: Model) -> dict[str, Any]:
    """The content of each declared export (``out/<asset>.csv``), as ``export <asset>``.

    Files of assets no longer exporting stay where they were: not compared.
    """
    found = {}
    for a in model.assets.values():
        if isinstance(a, PyAsset) and a.export:
            path = root / "out" / f"{a.name}.csv"
            found[f"export {a.name}"] = path.read_text() if path.is_file() else MISSING
    return found


def check_verdicts(root: Path, model: Model) -> dict[str, Any]:
    """Each check's latest verdict on its asset's current data, as ``check <asset>.<check>``."""
    import duckdb

    from assetflow.state import StateStore

    current = StateStore(root / ".assetflow").snapshot().current
    checked = [n for n, a in model.assets.items() if isinstance(a, PyAsset) and a.check_min >= 0]
    ids = sorted(current[n].id for n in checked if n in current)
    if not ids:
        return {}
    con = duckdb.connect(str(root / ".assetflow" / "state.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT asset, check_name, passed FROM check_results "
            f"WHERE materialization_id IN ({', '.join(map(str, ids))}) ORDER BY run_id"
        ).fetchall()
    finally:
        con.close()
    return {f"check {a}.{c}": passed for a, c, passed in rows}  # the latest run's wins


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 400 else text[:400] + "..."


def run_seed(
    seed: int,
    edits: int,
    work: Path,
    *,
    executor: str = "threads",
    coarse_mtimes: bool = False,
    stop_at_first: bool = False,
) -> SeedReport:
    """Generate the project of ``seed``, apply ``edits`` random edits, compare after each.

    After a mismatch the working project is rebuilt with ``--force`` so that the
    following edits are judged from a correct state.
    """
    rng = random.Random(seed)
    report = SeedReport(seed)
    clock = _Clock(coarse_mtimes)
    project = work / "project"
    scratch = work / "scratch"
    model = generate(rng)
    files: dict[str, str] = {}
    previous: dict[str, Any] = {}
    previous_ups: dict[str, list[str]] = {}
    args = ("--executor", executor) if executor != "threads" else ()
    with no_bytecode():
        for step in range(edits + 1):
            edit = Edit("initial build", "") if step == 0 else apply_edit(model, rng)
            new_files = model.render()
            diff = file_diff(files, new_files)
            mtimes = _read_racily(project, files, new_files, args) if edit.racy else {}
            write_files(project, files, new_files, clock, mtimes)
            if edit.touch:
                touch(project / edit.touch, clock)
            if edit.delete:
                (project / edit.delete).unlink(missing_ok=True)
            files = new_files
            outcomes = materialize(project, *args)
            shutil.rmtree(scratch, ignore_errors=True)
            write_files(scratch, {}, files, clock)
            materialize(scratch)
            expected = stored_values(scratch, model)
            got = stored_values(project, model)
            ran = {n for n, o in outcomes.items() if o == "materialized"}
            counts = report.kinds.setdefault(edit.kind, KindCounts())
            counts.edits += 1
            counts.reruns += len(ran & set(model.assets))
            found = _mismatches(seed, step, edit, model, expected, got, ran, diff)
            found += _side_mismatches(seed, step, edit, model, scratch, project, ran, diff)
            counts.wrong_skips += sum(not m.ran and m.root for m in found)
            report.mismatches += found
            if found and stop_at_first:
                return report
            if found:
                materialize(project, "--force")
            for n in _unneeded(model, files, ran, expected, previous, previous_ups):
                counts.unnecessary += 1
                if len(counts.examples) < 3:
                    counts.examples.append(f"seed {seed} edit {step}: {n} ({edit.detail})")
            previous = dict(expected)
            previous |= {s: model.source_text(s, files) for s in model.source_names()}
            previous_ups = {n: list(a.upstream) for n, a in model.assets.items()}
    return report


_RACY_NS = 2 * 10**9  # assetflow's caches distrust a file modified this close to a read


def _read_racily(
    project: Path, old: dict[str, str], new: dict[str, str], args: tuple[str, ...]
) -> dict[str, int]:
    """Save the files the edit changes, unchanged, just now, and run: a run that reads
    freshly saved files.

    Returns the mtimes the edit must keep: a file system with coarse timestamps
    gives a rewrite in the same tick the same mtime (and an edit of one digit
    keeps the size). If the run ended too long after the save for its reads to
    count as racy, the edit gets new mtimes like any other (returns ``{}``), so
    the test stays deterministic.
    """
    t = time.time_ns()
    changed = [rel for rel in sorted(new) if rel in old and old[rel] != new[rel]]
    for rel in changed:
        os.utime(project / rel, ns=(t, t))
    materialize(project, *args)
    return dict.fromkeys(changed, t) if time.time_ns() - t < _RACY_NS else {}


def _mismatches(
    seed: int,
    step: int,
    edit: Edit,
    model: Model,
    expected: dict[str, Any],
    got: dict[str, Any],
    ran: set[str],
    diff: str,
) -> list[Mismatch]:
    found = []
    for n, a in model.assets.items():
        if got[n] != expected[n]:
            root = all(got.get(u) == expected.get(u) for u in a.upstream)
            short_expected, short_got = _short(expected[n]), _short(got[n])
            context = model.describe(n)
            found.append(
                Mismatch(
                    seed, step, edit, n, n in ran, short_expected, short_got, diff, context, root
                )
            )
    return found


def _side_mismatches(
    seed: int,
    step: int,
    edit: Edit,
    model: Model,
    scratch: Path,
    project: Path,
    ran: set[str],
    diff: str,
) -> list[Mismatch]:
    """Exports whose files, and checks whose verdicts, differ from a build from scratch."""
    found = []
    for reader in (exported_files, check_verdicts):
        expected, got = reader(scratch, model), reader(project, model)
        for key in sorted(set(expected) | set(got)):
            if expected.get(key) != got.get(key):
                asset = key.split(" ", 1)[1].split(".")[0]
                found.append(
                    Mismatch(
                        seed,
                        step,
                        edit,
                        key,
                        asset in ran,
                        _short(expected.get(key, MISSING)),
                        _short(got.get(key, MISSING)),
                        diff,
                        key,
                    )
                )
    return found


def _unneeded(
    model: Model,
    files: dict[str, str],
    ran: set[str],
    expected: dict[str, Any],
    previous: dict[str, Any],
    previous_ups: dict[str, list[str]],
) -> list[str]:
    """The assets that re-ran though they, their upstreams and their inputs are as before."""

    def now(u: str) -> Any:
        return expected[u] if u in expected else model.source_text(u, files)

    return [
        n
        for n in sorted(ran & set(previous))
        if previous[n] == expected[n]
        and previous_ups.get(n) == model.assets[n].upstream
        and all(previous.get(u) == now(u) for u in model.assets[n].upstream)
    ]


def summary(reports: list[SeedReport]) -> str:
    """A table of edits, re-runs, unnecessary re-runs and wrong skips per edit kind."""
    total: dict[str, KindCounts] = {}
    for r in reports:
        for kind, c in r.kinds.items():
            t = total.setdefault(kind, KindCounts())
            t.edits += c.edits
            t.reruns += c.reruns
            t.unnecessary += c.unnecessary
            t.wrong_skips += c.wrong_skips
            t.examples += c.examples[: max(0, 3 - len(t.examples))]
    edits = sum(c.edits for k, c in total.items() if k != "initial build")
    lines = [
        f"differential: {len(reports)} seeds, {edits} edits, "
        f"{sum(len(r.mismatches) for r in reports)} mismatching assets; wrong skips count those "
        "whose upstreams hold the right values",
        f"{'edit kind':<24} {'edits':>6} {'re-runs':>8} {'unneeded':>9} {'wrong skips':>12}",
    ]
    for kind in sorted(total):
        c = total[kind]
        lines.append(
            f"{kind:<24} {c.edits:>6} {c.reruns:>8} {c.unnecessary:>9} {c.wrong_skips:>12}"
        )
    for kind in sorted(total):
        for example in total[kind].examples:
            lines.append(f"  unneeded re-run, {kind}: {example}")
    return "\n".join(lines)
