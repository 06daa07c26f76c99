"""Which changed files matter to a project: what ``assetflow watch`` watches and ignores.

:class:`Scope` says what a change must touch to matter (the assets and checks
folders, the config file, the files sources read) and which folders to watch.
:class:`ChangeFilter` drops the rest: the state folder, ``__pycache__`` and VCS
folders, editor temporaries, and what ``.gitignore`` ignores (with pathspec's
git semantics), except files a source names.

Example:
    >>> [ignored_name(n) for n in (".orders.py.swp", "4913", "orders.py~", "orders.py")]
    [True, True, True, False]
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.observation import is_glob

if TYPE_CHECKING:
    import pathspec

    from assetflow.graph import AssetGraph
    from assetflow.project import Config

_SKIPPED_DIRS = frozenset(
    {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
    | {".ipynb_checkpoints", ".idea", ".vscode", "node_modules"}
)
_TEMP_SUFFIXES = (
    *(".swp", ".swo", ".swn", ".swx", "~", ".tmp", ".temp", ".bak", ".orig", ".rej"),
    *(".crswap", ".kate-swp", "___jb_tmp___", "___jb_old___", ".pyc", ".pyo"),
)
_SED_TEMP = re.compile(r"sed[A-Za-z0-9]{6}")  # sed -i writes one, then renames it


def ignored_name(name: str) -> bool:
    """Whether a file name is an editor's swap, backup or temporary file (or hidden).

    Example:
        >>> [ignored_name(n) for n in (".orders.py.swp", "4913", "orders.py~", "orders.py")]
        [True, True, True, False]
    """
    return (
        name.startswith((".", "#"))  # .#x.py (Emacs lock), #x.py# (Emacs autosave), dotfiles
        or name.endswith(_TEMP_SUFFIXES)
        or name.isdigit()  # Vim's 4913 probe: can it write here?
        or _SED_TEMP.fullmatch(name) is not None
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """What a change must touch to matter: definitions, config, and the files sources read."""

    root: Path
    state_dir: Path
    trees: tuple[Path, ...]  # the assets and checks folders: anything under them counts
    config_file: Path | None
    sources: frozenset[Path]  # file sources
    globs: tuple[str, ...]  # glob sources, as absolute patterns

    @classmethod
    def of(cls, config: Config, graph: AssetGraph | None) -> Scope:
        """The scope of a project: ``graph`` is None while it has never loaded."""
        sources, globs = set(), []
        for a in graph or ():
            path = a.source.path if a.source is not None else None
            if path:
                full = os.path.normpath(config.root / path)  # root / an absolute path is it
                if is_glob(path):
                    globs.append(full)
                else:
                    sources.add(Path(full))
        return cls(
            root=config.root,
            state_dir=config.state_dir,
            trees=(config.assets_dir, config.checks_dir),
            config_file=config.config_file,
            sources=frozenset(sources),
            globs=tuple(sorted(globs)),
        )

    def directories(self) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
        """Folders to watch: ``(recursively, flat)``, each existing and watched once."""
        deep = [*self.trees, *(Path(_glob_base(g)) for g in self.globs)]
        flat = [self.root, *(s.parent for s in self.sources)]
        deep_found = {d for d in deep if d.is_dir()}
        flat_found = {_existing(d) for d in flat} | {_existing(d) for d in deep if not d.is_dir()}
        deep_found = {d for d in deep_found if not any(o in d.parents for o in deep_found)}
        flat_found = {
            d for d in flat_found if not any(d == o or o in d.parents for o in deep_found)
        }
        return tuple(sorted(deep_found)), tuple(sorted(flat_found))

    def describe(self) -> str:
        """What is watched, for people: ``assets/, assetflow.toml, data/orders.csv in /p``."""
        trees = [t for t in self.trees if t.is_dir()]
        files = [*trees, *([self.config_file] if self.config_file else []), *sorted(self.sources)]
        names = [relative(self.root, str(f)) + "/" * (f in trees) for f in files]
        names += [relative(self.root, g) for g in self.globs]
        return f"{', '.join(names)} in {self.root}"

    def needs_reload(self, paths: Iterable[str]) -> bool:
        """Whether definitions may have changed: anything but source data did."""
        return not all(Path(p) in self.sources or self.globbed(p) for p in paths)

    def globbed(self, path: str) -> bool:
        """Whether ``path`` (absolute) matches a glob source."""
        return any(fnmatch.fnmatchcase(path, g) for g in self.globs)


class ChangeFilter:
    """Which changed paths matter to a project; a ``watch_filter`` for watchfiles.

    Not the state folder, ``__pycache__`` and VCS folders, editor temporaries,
    or what the project's ``.gitignore`` files ignore, unless a source names
    the file: data folders are often ignored by git, yet sources read them.
    """

    def __init__(self, scope: Scope) -> None:
        self.update(scope, scope.directories())
        self._gitignore = _GitIgnore(scope.root)

    @property
    def scope(self) -> Scope:
        return self._state[0]

    def update(self, scope: Scope, directories: tuple[tuple[Path, ...], ...]) -> None:
        """Judge by ``scope`` from now on, with ``directories`` watched."""
        # Replaced whole, in one assignment: watcher threads read it.
        self._state = (scope, frozenset(d for group in directories for d in group))

    def __call__(self, change: object, path: str) -> bool:
        return self.relevant(path)

    def relevant(self, path: str) -> bool:
        """Whether a change to ``path`` (absolute) may change what a rebuild does."""
        (scope, watched), p = self._state, Path(path)
        if p == scope.state_dir or scope.state_dir in p.parents:
            return False
        if p in watched:  # a watched folder's own times: its entries' changes tell more
            return False
        if _SKIPPED_DIRS.intersection(_parts(scope.root, p)):
            return False
        if p in scope.sources:
            return True
        if ignored_name(p.name):
            return False
        if scope.globbed(path):
            return True
        if self._gitignore.ignored(p):
            return False
        if p == scope.config_file or any(t == p or t in p.parents for t in scope.trees):
            return True
        # A folder on the way to a source, created or removed.
        return any(p in s.parents for s in scope.sources) or any(
            p in Path(_glob_base(g)).parents or p == Path(_glob_base(g)) for g in scope.globs
        )


class _GitIgnore:
    """gitignore semantics from every ``.gitignore`` between the work tree's top and a path.

    Patterns of a nested ``.gitignore`` are rebased onto the top and come after
    its parents' ones, so one spec with "last match wins" gives git's precedence.
    """

    def __init__(self, root: Path) -> None:
        self.top = next((d for d in (root, *root.parents) if (d / ".git").exists()), root)
        self._lines: dict[Path, tuple[tuple[int, int] | None, tuple[str, ...]]] = {}
        self._specs: dict[tuple[str, ...], pathspec.GitIgnoreSpec] = {}

    def ignored(self, path: Path) -> bool:
        try:
            rel = path.relative_to(self.top)
        except ValueError:
            return False
        lines: list[str] = []
        for i in range(len(rel.parts)):
            lines += self._rebased(self.top.joinpath(*rel.parts[:i]), "/".join(rel.parts[:i]))
        if not lines:
            return False
        key = tuple(lines)
        spec = self._specs.get(key)
        if spec is None:
            import pathspec

            spec = self._specs[key] = pathspec.GitIgnoreSpec.from_lines(lines)
        text = rel.as_posix() + ("/" if path.is_dir() else "")
        return bool(spec.match_file(text))

    def _rebased(self, directory: Path, prefix: str) -> tuple[str, ...]:
        path = directory / ".gitignore"
        try:
            st = path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        cached = self._lines.get(directory)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        lines: tuple[str, ...] = ()
        if stamp is not None:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            lines = tuple(r for r in (_rebase(x, prefix) for x in text.splitlines()) if r)
        self._lines[directory] = (stamp, lines)
        return lines


def _rebase(line: str, prefix: str) -> str | None:
    """A pattern of ``prefix/.gitignore`` as a pattern of the top's ``.gitignore``."""
    if not line.strip() or line.startswith("#"):
        return None
    if not prefix:
        return line
    negated = line.startswith("!")
    body = line[1:] if negated else line
    # A slash before the end anchors a pattern to its folder; otherwise it matches at any depth.
    anchored = "/" in body.rstrip("/")
    rebased = f"{prefix}/{body.lstrip('/')}" if anchored else f"{prefix}/**/{body}"
    return ("!" if negated else "") + rebased


def _glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: ``/p/data`` of ``/p/data/*.csv``."""
    parts = Path(pattern).parts
    fixed = parts[: next(i for i, p in enumerate(parts) if is_glob(p))]
    return os.path.join(*fixed) if fixed else os.sep


def _existing(path: Path) -> Path:
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def _parts(root: Path, path: Path) -> tuple[str, ...]:
    try:
        return path.relative_to(root).parts
    except ValueError:
        return path.parts


def relative(root: Path, path: str) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path
