"""Find a project, read its configuration, and discover its assets.

The root is the nearest directory, from the working directory up, holding a
``pyproject.toml`` with a ``[tool.assetflow]`` table or an ``assetflow.toml``.
Settings come from, in order of precedence: arguments, ``ASSETFLOW_*``
environment variables, the config file, defaults.

Python files are imported by path as modules of a package made for this
load (``_assetflow_1``, ``_assetflow_2``, ...) whose ``__path__`` is the
assets folder: relative imports between asset files work, ``sys.path`` is never
touched, and the same project loads twice in one process (``watch`` needs it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import itertools
import json
import os
import re
import sys
import traceback
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.bytecode import PREFIX, SourceLoader, install_finder
from assetflow.definition import (
    Asset,
    AssetFunction,
    CheckFunction,
    Source,
    build_options,
    check_bindings,
    declarations,
    python_asset,
    source_asset,
    validate_name,
)
from assetflow.errors import DefinitionError, ProjectNotFoundError
from assetflow.settings import declared_settings, resolve_settings

if TYPE_CHECKING:
    from assetflow.checks import SqlCheck
    from assetflow.sql import SqlDefinition

DEFAULT_GROUP = "default"

_TYPE_WORDS = {str: "a string", int: "an integer", bool: "true or false"}
_CONFIG_KEYS: dict[str, type] = {
    "assets": str,
    "state": str,
    "keep_versions": int,
    "shared_storage": bool,
    "checks": str,
}
_DEFAULTS: dict[str, Any] = {
    "assets": "assets",
    "state": ".assetflow",
    "keep_versions": 3,
    "checks": "checks",  # a folder of .sql check files; need not exist
    # The project and state folder are at the same path on every Dask worker's machine.
    "shared_storage": False,
    "settings": {},  # run-time settings and their defaults: [tool.assetflow.settings]
}
_load_counter = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Config:
    """A project's settings, resolved from arguments, environment, file and defaults."""

    root: Path
    assets_dir: Path
    state_dir: Path
    keep_versions: int
    shared_storage: bool
    checks_dir: Path
    config_file: Path | None
    # Run-time settings (name -> value for this command): default, env, then --set.
    settings: Mapping[str, Any] = field(default_factory=dict)

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the root, with ``/`` separators, for messages and output."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return p.as_posix()


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds an assetflow config.

    Raises:
        ProjectNotFoundError: no such directory up to the filesystem root.
    """
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / "assetflow.toml").is_file():
            return directory
        pyproject = directory / "pyproject.toml"
        # A cheap text test first: parsing every pyproject.toml up the tree is waste.
        if (
            pyproject.is_file()
            and "tool.assetflow" in pyproject.read_text(errors="replace")
            and "assetflow" in _read_toml(pyproject).get("tool", {})
        ):
            return directory
    raise ProjectNotFoundError(
        f"no assetflow project in {start} or its parents; run 'assetflow init DIR' to create "
        "one, add [tool.assetflow] to pyproject.toml, or pass --project DIR."
    )


def load_config(
    project: str | os.PathLike[str] | None = None,
    *,
    state: str | os.PathLike[str] | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Config:
    """Resolve a project's configuration.

    Args:
        project: the project directory; else ``ASSETFLOW_PROJECT``; else found from ``cwd`` up.
        state: the state folder; else ``ASSETFLOW_STATE``; else the config's ``state``.
        cwd: where to start looking (default: the working directory).
        environ: the environment (default: ``os.environ``).
        overrides: ``--set name=value`` settings for this command (see :mod:`assetflow.settings`).
    """
    env = os.environ if environ is None else environ
    base = cwd or Path.cwd()
    project = project or env.get("ASSETFLOW_PROJECT")
    if project:
        root = (base / project).resolve()
        if not root.is_dir():
            raise ProjectNotFoundError(
                f"project directory {project} does not exist; pass an existing --project DIR."
            )
    else:
        root = find_root(base)
    config_file, settings = _read_settings(root)
    if env.get("ASSETFLOW_ASSETS"):
        settings["assets"] = env["ASSETFLOW_ASSETS"]
    state = state or env.get("ASSETFLOW_STATE")
    if state:
        settings["state"] = str((base / state).resolve())
    assets_dir = (root / settings["assets"]).resolve()
    if not assets_dir.is_dir():
        where = config_file.name if config_file else "the default"
        raise ProjectNotFoundError(
            f"assets folder {settings['assets']!r} (from {where}) does not exist in {root}; "
            "create it or set 'assets' in [tool.assetflow]."
        )
    return Config(
        root=root,
        assets_dir=assets_dir,
        state_dir=(root / settings["state"]).resolve(),
        keep_versions=settings["keep_versions"],
        shared_storage=settings["shared_storage"],
        checks_dir=(root / settings["checks"]).resolve(),
        config_file=config_file,
        settings=resolve_settings(settings["settings"], env, overrides or {}),
    )


def _read_settings(root: Path) -> tuple[Path | None, dict[str, Any]]:
    settings = dict(_DEFAULTS)
    config_file: Path | None = None
    table: dict[str, Any] = {}
    if (root / "assetflow.toml").is_file():
        config_file = root / "assetflow.toml"
        table = _read_toml(config_file)
        table = table.get("tool", {}).get("assetflow", table)
    elif (root / "pyproject.toml").is_file():
        data = _read_toml(root / "pyproject.toml")
        if "assetflow" in data.get("tool", {}):
            config_file = root / "pyproject.toml"
            table = data["tool"]["assetflow"]
    for key, value in table.items():
        if key == "settings":
            settings["settings"] = declared_settings(value, str(config_file))
            continue
        expected = _CONFIG_KEYS.get(key)
        if expected is None:
            raise ProjectNotFoundError(
                f"{config_file}: unknown setting {key!r} in [tool.assetflow]; "
                f"known settings are {', '.join(sorted([*_CONFIG_KEYS, 'settings']))}."
            )
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise ProjectNotFoundError(
                f"{config_file}: setting {key} = {value!r} must be {_TYPE_WORDS[expected]}; fix it."
            )
        settings[key] = value
    if settings["keep_versions"] < 1:
        raise ProjectNotFoundError(f"{config_file}: keep_versions must be at least 1; fix it.")
    return config_file, settings


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ProjectNotFoundError(f"{path}: invalid TOML ({e}); fix the file.") from None


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project: its configuration and every asset and source found in it."""

    config: Config
    assets: tuple[Asset, ...]
    package: str  # the module package this load imported Python files under
    checks: tuple[CheckFunction, ...] = ()  # @check functions, not yet attached to assets
    sql_checks: tuple[SqlCheck, ...] = ()  # .sql files of the checks folder, not yet attached

    @property
    def root(self) -> Path:
        return self.config.root


def load_project(config: Config) -> Project:
    """Discover every asset and source under ``config.assets_dir``.

    Raises:
        DefinitionError: a file does not import or parse, or a declaration is invalid.
    """
    package = f"{PREFIX}{next(_load_counter)}"
    install_finder()
    new_package(package, config.assets_dir)
    sql_cache = _SqlCache(config.state_dir / "cache" / "sql.json")
    found: list[Asset] = []
    checks: list[CheckFunction] = []
    for path in _asset_files(config.assets_dir):
        rel = _relative(path, config)
        group = _group_of(path, config.assets_dir)
        if path.suffix == ".py":
            module = import_file(path, rel, package, config.assets_dir)
            found.extend(_module_assets(module, rel, group, checks, frozenset(config.settings)))
        else:
            found.append(_sql_asset(path, rel, group, sql_cache))
    _check_constants(found)
    _check_setting_names(found, config)
    sql_checks = tuple(_sql_checks(config, sql_cache))
    sql_cache.save()
    return Project(
        config=config,
        assets=tuple(found),
        package=package,
        checks=tuple(checks),
        sql_checks=sql_checks,
    )


_CHECK_HEADER = re.compile(r"\s*--\s*(asset|severity)\s*:\s*(\S.*?)\s*")


def _sql_checks(config: Config, cache: _SqlCache) -> Iterator[SqlCheck]:
    """The ``.sql`` files of the checks folder, each naming its asset in a header."""
    from assetflow.checks import SqlCheck

    if not config.checks_dir.is_dir():
        return
    for path in sorted(config.checks_dir.rglob("*.sql")):
        rel = config.relative(path)
        text = path.read_text(encoding="utf-8")
        header: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip().startswith("--") and line.strip():
                break
            m = _CHECK_HEADER.fullmatch(line)
            if m:
                header[m.group(1)] = m.group(2)
        if "asset" not in header:
            raise DefinitionError(
                f"{rel}:1: a SQL check names the asset it checks in its header; "
                "add a line such as '-- asset: orders'."
            )
        severity = header.get("severity", "error")
        if severity not in ("error", "warn"):
            raise DefinitionError(f"{rel}: severity must be 'error' or 'warn', not {severity!r}.")
        definition = cache.parse(text, rel)
        yield SqlCheck(
            name=path.stem,
            asset=header["asset"],
            severity=severity,
            query=definition.query,
            file=rel,
            line=definition.body_line,
            reads=definition.deps,
        )


def _asset_files(assets_dir: Path) -> Iterator[Path]:
    """``.py`` and ``.sql`` files, sorted, skipping private, hidden and cache entries."""
    for dirpath, dirnames, filenames in os.walk(assets_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if name.startswith((".", "_")):
                continue
            if name.endswith((".py", ".sql")):
                yield Path(dirpath, name)


def _relative(path: Path, config: Config) -> str:
    """``config.relative(path)`` for a file found by walking the (resolved) assets folder.

    The walk follows no directory links, so only the file itself can be a link:
    unless it is one, the path is already resolved and need not be resolved
    again (a dozen system calls per file).
    """
    if not path.is_symlink():
        try:
            return path.relative_to(config.root).as_posix()
        except ValueError:  # an assets folder outside the root
            pass
    return config.relative(path)


def _group_of(path: Path, assets_dir: Path) -> str:
    parts = path.parent.relative_to(assets_dir).parts
    return "/".join(parts) if parts else DEFAULT_GROUP


def new_package(name: str, directory: Path) -> types.ModuleType:
    """Register package ``name`` (empty, or its ``__init__.py``) for modules in ``directory``."""
    init = directory / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name,
            init,
            loader=SourceLoader(name, str(init)),
            submodule_search_locations=[str(directory)],
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    module = types.ModuleType(name)
    module.__path__ = [str(directory)]
    module.__package__ = name
    sys.modules[name] = module
    return module


def import_file(path: Path, rel: str, package: str, assets_dir: Path) -> types.ModuleType:
    """Import ``path`` as a module of ``package`` (once), turning failures into one sentence."""
    parts = path.relative_to(assets_dir).with_suffix("").parts
    parent = package
    for i, part in enumerate(parts[:-1]):
        parent = f"{parent}.{part}"
        if parent not in sys.modules:
            new_package(parent, assets_dir.joinpath(*parts[: i + 1]))
    name = f"{parent}.{parts[-1]}"
    if name in sys.modules:  # imported already under this package: by an earlier job, say
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path, loader=SourceLoader(name, str(path)))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        del sys.modules[name]
        raise DefinitionError(
            f"{rel}:{e.lineno}: syntax error: {e.msg}; fix the Python file."
        ) from None
    except DefinitionError as e:
        del sys.modules[name]
        # @asset and source() name the absolute file; say it the way the user sees it.
        raise DefinitionError(str(e).replace(str(path), rel)) from None
    except Exception as e:
        del sys.modules[name]
        line = _error_line(e, path)
        raise DefinitionError(
            f"{rel}:{line}: importing the file failed with {type(e).__name__}: {e}; fix the file."
        ) from e
    return module


def _error_line(error: BaseException, path: Path) -> int | str:
    """The deepest line of ``path`` in the error's traceback."""
    line: int | str = "?"
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename) == path and frame.lineno is not None:
            line = frame.lineno
    return line


def _module_assets(
    module: types.ModuleType,
    rel: str,
    group: str,
    checks: list[CheckFunction],
    settings: frozenset[str] = frozenset(),
) -> list[Asset]:
    """What the module's top-level code declared, checked to read what it read when declared.

    Only what this module declared counts: an asset imported from another file
    belongs to that file, and one a factory function made belongs to the module
    that called the factory.
    """
    found = []
    namespace = vars(module)
    for value in declarations(namespace):
        if isinstance(value, AssetFunction):
            where = f"{rel}:{value.line}"
            check_bindings(value.fn, value.bindings, f"asset {value.name!r}", where)
            found.append(python_asset(value, file=rel, group=group, settings=settings))
        elif isinstance(value, CheckFunction):
            what = f"check {value.name!r} of {value.asset!r}"
            check_bindings(value.fn, value.bindings, what, f"{rel}:{value.line}")
            checks.append(dataclasses.replace(value, file=rel))
        elif isinstance(value, Source):
            for name in _source_names(value, namespace, rel):
                found.append(source_asset(value, name=name, file=rel, line=value.line, group=group))
    return found


def _source_names(src: Source, namespace: Mapping[str, object], rel: str) -> list[str]:
    """A source's name, else the names of the module variables it is assigned to."""
    if src.name is not None:
        return [src.name]
    where = f"{rel}:{src.line}"
    names = [validate_name(var, where) for var, value in namespace.items() if value is src]
    if not names:
        raise DefinitionError(
            f"{where}: source({src.path!r}) is not assigned to a module-level name, so it has "
            "no name; assign it (raw = source(...)) or pass source(..., name=...)."
        )
    return names


def declared_assets(module: types.ModuleType) -> list[AssetFunction]:
    """The ``@asset`` functions the module's top-level code declared, in order."""
    return [v for v in declarations(vars(module)) if isinstance(v, AssetFunction)]


def _check_setting_names(assets: list[Asset], config: Config) -> None:
    """A setting may not share its name with an asset or source: a parameter could mean either."""
    settings = {name.lower(): name for name in config.settings}
    for a in assets:
        if a.name.lower() in settings:
            raise DefinitionError(
                f"{a.where}: {a.kind} {a.name!r} has the name of the setting "
                f"{settings[a.name.lower()]!r} in {config.config_file}; rename one."
            )


def _check_constants(assets: list[Asset]) -> None:
    """Refuse a parameter with a default (a bound constant) that is also named like an asset."""
    names = {a.name.lower() for a in assets}
    for a in assets:
        for param in a.constants:
            if param.lower() in names:
                raise DefinitionError(
                    f"{a.where}: asset {a.name!r}: parameter {param!r} has a default, which "
                    f"makes it a constant, but {param!r} also names an asset or source; remove "
                    "the default to read that asset, or rename the parameter."
                )


@functools.cache
def library_versions() -> str:
    """The versions of assetflow, Python, DuckDB and sqlglot, for keying what they compute.

    Cheap: DuckDB is imported by every command that reads state anyway, and
    sqlglot's version is read from its ``_version.py`` without importing it
    (``importlib.metadata`` costs tens of milliseconds).
    """
    import duckdb

    from assetflow import __version__

    spec = importlib.util.find_spec("sqlglot")
    sqlglot = "?"
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError):
            sqlglot = Path(spec.origin).with_name("_version.py").read_text()
    sqlglot = hashlib.sha256(sqlglot.encode()).hexdigest()[:16]
    return f"{__version__}|{sys.version_info[:2]}|{duckdb.__version__}|{sqlglot}"


class _SqlCache:
    """Parsed ``.sql`` files by content, so an unchanged project never imports sqlglot.

    Keyed by a hash of the file's text, its path (error messages and options
    name it) and the versions of assetflow, sqlglot and DuckDB (whose parse
    tree the code version hashes).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = False
        self.entries: dict[str, dict[str, Any]] = {}
        self._versions: str | None = None
        with contextlib.suppress(OSError, ValueError):  # no cache yet, or a damaged one
            self.entries = json.loads(path.read_text())

    def _key(self, text: str, rel: str) -> str:
        if self._versions is None:
            self._versions = library_versions()
        return hashlib.sha256(f"{self._versions}|{rel}|{text}".encode()).hexdigest()

    def parse(self, text: str, rel: str) -> SqlDefinition:
        from assetflow.sql import SqlDefinition, parse_sql_asset

        key = self._key(text, rel)
        entry = self.entries.get(key)
        if entry is not None and entry.keys() == SqlDefinition.__dataclass_fields__.keys():
            return SqlDefinition(
                **{
                    **entry,
                    "deps": frozenset(entry["deps"]),
                    "external_reads": tuple(entry["external_reads"]),
                }
            )
        definition = parse_sql_asset(text, path=rel)
        self.entries[key] = {
            **{f: getattr(definition, f) for f in definition.__dataclass_fields__},
            "deps": sorted(definition.deps),
        }
        self.changed = True
        return definition

    def save(self) -> None:
        # Only into a state folder that exists: checking a project must not create one.
        if not self.changed or not self.path.parent.parent.is_dir():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.entries))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only state folder only costs parsing again


def _sql_asset(path: Path, rel: str, group: str, cache: _SqlCache) -> Asset:
    name = validate_name(path.stem, rel)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DefinitionError(f"{rel}: not UTF-8 text; save the file as UTF-8.") from None
    definition = cache.parse(text, rel)
    options = build_options(definition.options, rel)
    deps = tuple(d for d in options.deps if d.lower() not in definition.deps)
    return Asset(
        name=name,
        kind="sql",
        file=rel,
        line=definition.body_line,
        group=options.group or group,
        options=options,
        upstream=tuple(sorted(definition.deps)) + deps,
        sql=definition,
    )
