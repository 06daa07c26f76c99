"""The Python API: the same operations the command line runs, returning typed results."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.graph import AssetGraph, attach_checks, build_graph
from assetflow.project import Config, Project, load_config, load_project

if TYPE_CHECKING:
    from assetflow.events import Event
    from assetflow.plan import AssetStatus
    from assetflow.run import RunResult


@dataclass(frozen=True, slots=True)
class LoadedProject:
    """A project's configuration, discovered assets and validated graph."""

    config: Config
    project: Project
    graph: AssetGraph


def load(
    project: str | os.PathLike[str] | None = None,
    *,
    state: str | os.PathLike[str] | None = None,
    cwd: Path | None = None,
    settings: Mapping[str, str] | None = None,
) -> LoadedProject:
    """Find, load and validate a project.

    Args:
        settings: ``name -> value`` text overriding the project's run-time settings
            (``--set``); they win over ``ASSETFLOW_SET_<NAME>`` and the config file.

    Raises:
        DefinitionError: the project cannot be found, or an asset is not well defined.
    """
    config = load_config(project, state=state, cwd=cwd, overrides=settings)
    loaded = load_project(config)
    assets = attach_checks(loaded.assets, loaded.checks, loaded.sql_checks)
    return LoadedProject(config=config, project=loaded, graph=build_graph(assets))


def _names(
    loaded: LoadedProject,
    select: str | Sequence[str] | None,
    exclude: str | Sequence[str] | None,
    now: dt.datetime | None,
) -> list[str]:
    from assetflow.selection import select as run_selection

    def lookup() -> dict[str, str]:
        from assetflow.run import statuses as all_statuses

        found = all_statuses(loaded.graph, loaded.config, loaded.project.package, now=now)
        return {n: s.status.value for n, s in found.items()}

    return run_selection(loaded.graph, select, exclude, statuses=lookup)


def materialize(
    select: str | Sequence[str] | None = None,
    *,
    exclude: str | Sequence[str] | None = None,
    project: str | os.PathLike[str] | LoadedProject | None = None,
    force: bool = False,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    executor: str = "threads",
    workers: int | None = None,
    address: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Materialize what is missing, stale, overdue or failed in the selection.

    Args:
        select: a selection (``"+daily_revenue"``, ``["a", "tag:x"]``); default everything.
        exclude: assets to leave out.
        project: a project directory or an already loaded project.
        force: run every selected asset regardless of status.
        dry_run: plan only; the result's outcomes are ``run``, ``check``, ``fail``,
            ``skipped``, ``fresh``.
        now: the time freshness is judged at (naive UTC; default: the clock).
        executor: ``threads`` (default), ``processes`` or ``dask``.
        workers: how many assets run at once (default: the number of cores).
        address: the Dask scheduler's address (default: ``DASK_SCHEDULER_ADDRESS``, else a
            local cluster).
        on_event: called with each :mod:`assetflow.events` event, in order, as it happens.
        on_notice: called with messages for a person (waiting for a lock, interrupted).
        sleep: how retries wait between attempts (tests pass a recorder).

    Returns:
        One result per selected asset, in dependency order; ``RunResult.ok`` is False
        when an asset failed.

    Raises:
        KeyboardInterrupt: the run was interrupted; what finished was recorded first.
    """
    from assetflow.run import materialize as run_materialize

    loaded = project if isinstance(project, LoadedProject) else load(project)
    names = _names(loaded, select, exclude, now)
    text = " ".join([select] if isinstance(select, str) else list(select or []))
    return run_materialize(
        loaded.graph,
        loaded.config,
        loaded.project.package,
        names,
        force=force,
        dry_run=dry_run,
        now=now,
        selection=text,
        executor=executor,
        workers=workers,
        address=address or os.environ.get("DASK_SCHEDULER_ADDRESS"),
        on_event=on_event,
        on_notice=on_notice,
        sleep=sleep,
    )


def status(
    select: str | Sequence[str] | None = None,
    *,
    exclude: str | Sequence[str] | None = None,
    project: str | os.PathLike[str] | LoadedProject | None = None,
    now: dt.datetime | None = None,
) -> list[AssetStatus]:
    """The status of each selected asset and source, with every cause, in dependency order."""
    from assetflow.run import statuses as all_statuses

    loaded = project if isinstance(project, LoadedProject) else load(project)
    found = all_statuses(loaded.graph, loaded.config, loaded.project.package, now=now)
    names = _names(loaded, select, exclude, now)
    return [found[n] for n in names]


def select_names(
    loaded: LoadedProject,
    select: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[str]:
    """The names a selection picks, in dependency order (``status:`` reads the state)."""
    return _names(loaded, select, exclude, now)
