"""The ``assetflow`` command line: the only click importer, and the only place
errors become exit codes.

Exit codes: 0 success; 1 an asset failed; 2 usage or definition error;
3 infrastructure error (state locked or unreadable, storage unwritable);
130 interrupted. JSON goes to stdout as one document; logs go to stderr.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from assetflow.errors import (
    AssetflowError,
    DefinitionError,
    InfrastructureError,
    MaterializationError,
    UsageError,
    disk_error,
)

F = TypeVar("F", bound=Callable[..., Any])

_GC_THRESHOLD = 50_000
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it


def exit_code(error: AssetflowError) -> int:
    """The exit code that ``error`` stands for."""
    if isinstance(error, (DefinitionError, UsageError)):
        return EXIT_USAGE
    if isinstance(error, MaterializationError):
        return EXIT_FAILED
    if isinstance(error, InfrastructureError):
        return EXIT_INFRASTRUCTURE
    return EXIT_FAILED


class _Group(click.Group):
    """Turns assetflow errors into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssetflowError as e:
            if _debug(ctx):
                raise
            click.echo(f"error: {e}", err=True)
            ctx.exit(exit_code(e))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`assetflow list | head`): stop quietly, as Unix tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_BROKEN_PIPE)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as e:
            if _debug(ctx):
                raise
            disk = disk_error(e, state_dir=(ctx.obj or {}).get("state_dir"))
            if disk is not None:
                # A full, read-only or forbidden disk is the environment, not a bug.
                click.echo(f"error: {disk}", err=True)
                ctx.exit(exit_code(disk))
            # Not the user's fault: say so, and keep the traceback for --debug.
            click.echo(
                f"internal error: {type(e).__name__}: {e} (a bug in assetflow; rerun with "
                "--debug for the traceback and report it)",
                err=True,
            )
            ctx.exit(EXIT_INFRASTRUCTURE)


def _debug(ctx: click.Context) -> bool:
    return bool((ctx.obj or {}).get("debug")) or os.environ.get("ASSETFLOW_DEBUG") == "1"


def _remember_set(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    # --set may come before the command name or after it; both add to one list.
    if value:
        ctx.ensure_object(dict)
        root = ctx.find_root()
        root.ensure_object(dict)
        root.obj.setdefault("set", []).extend(value)


_SET_HELP = (
    "Set a run-time setting for this command: --set name=value (repeatable; "
    "env ASSETFLOW_SET_<NAME>; defaults in [tool.assetflow.settings])."
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project directory, for any command (also accepted after the command name).",
)
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    help="State folder, for any command (also accepted after the command name).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    expose_value=False,
    is_eager=True,
    callback=_remember_set,
    help=_SET_HELP,
)
@click.version_option(package_name="assetflow")
@click.pass_context
def main(ctx: click.Context, debug: bool, project: Path | None, state: Path | None) -> None:
    """assetflow: data assets in Python and SQL, materialized only when stale."""
    ctx.ensure_object(dict)
    ctx.obj.update({"debug": debug, "project": project, "state": state})


def _global(ctx: click.Context | None, key: str, given: Any) -> Any:
    """An option given after the command name, else the same option given before it."""
    if given is not None or ctx is None:
        return given
    return (ctx.find_root().obj or {}).get(key)


def _project_options(f: F) -> F:
    f = click.option(
        "--set",
        "settings",
        multiple=True,
        metavar="NAME=VALUE",
        expose_value=False,
        callback=_remember_set,
        help=_SET_HELP,
    )(f)
    f = click.option(
        "--state",
        type=click.Path(file_okay=False, path_type=Path),
        callback=lambda ctx, param, value: _global(ctx, "state", value),
        help="State folder (default: the config's 'state'; env ASSETFLOW_STATE).",
    )(f)
    f = click.option(
        "--project",
        type=click.Path(file_okay=False, path_type=Path),
        callback=lambda ctx, param, value: _global(ctx, "project", value),
        help="Project directory (default: found from the working directory up; "
        "env ASSETFLOW_PROJECT).",
    )(f)
    return f


def _selection_options(f: F) -> F:
    f = click.option(
        "--exclude", multiple=True, help="Leave out assets matching this selection (repeatable)."
    )(f)
    return click.argument("select", nargs=-1)(f)


class _Limit(click.IntRange):
    """A count of rows or records to show: at least ``min``; past DuckDB's largest, all.

    A limit bigger than any table (``--limit 99999999999999999999``) asks for
    everything, so it is clamped to the largest ``LIMIT`` DuckDB accepts.
    """

    name = "integer"  # click's "integer range" reads oddly in "'x' is not a valid ..."
    _LARGEST = 2**63 - 1  # DuckDB's LIMIT is a BIGINT

    def __init__(self, min: int) -> None:
        super().__init__(min=min)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return min(super().convert(value, param, ctx), self._LARGEST)


def _format_option(*choices: str) -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def _load(project: Path | None, state: Path | None = None) -> Any:
    from assetflow.api import load
    from assetflow.settings import parse_overrides

    ctx = click.get_current_context(silent=True)
    given = (ctx.find_root().obj or {}).get("set", []) if ctx is not None else []
    loaded = load(project, state=state, settings=parse_overrides(given))
    if ctx is not None and ctx.obj is not None:
        # The folder to name when a full or read-only disk gives no file name.
        ctx.obj["state_dir"] = loaded.config.state_dir
    return loaded


def _selected(loaded: Any, select: Sequence[str], exclude: Sequence[str]) -> list[str]:
    from assetflow.api import select_names

    return select_names(loaded, list(select), list(exclude))


def _emit_json(doc: object) -> None:
    click.echo(json.dumps(doc, indent=2))


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--empty",
    is_flag=True,
    help="A minimal project (config, empty assets/ and data/, a README), not the example.",
)
def init(directory: Path, empty: bool) -> None:
    """Create a runnable example project in DIRECTORY, named after it."""
    import shlex

    from assetflow.scaffold import command_used, create_project, project_name

    create_project(directory, _template_dir(), empty=empty)
    what = "an empty assetflow project" if empty else "the example assetflow project"
    click.echo(f"Created {what} {project_name(directory)!r} in {directory}.", err=True)
    then = "list" if empty else "materialize"
    click.echo(f"Next: cd {shlex.quote(str(directory))} && {command_used()} {then}", err=True)


def _template_dir() -> Path:
    here = Path(__file__).resolve().parent
    # A wheel ships the template inside the package; a source checkout has it beside.
    for candidate in (here / "_template", here.parent / "project_template"):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    raise DefinitionError(
        "the project template is missing from this installation; reinstall assetflow."
    )


@main.command("list")
@_selection_options
@_project_options
@_format_option("text", "json")
def list_assets(
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    project: Path | None,
    state: Path | None,
    fmt: str,
) -> None:
    """List assets and sources with their kind, group and upstreams."""
    from assetflow.lineage import list_records

    loaded = _load(project, state)
    assets = [loaded.graph[n] for n in _selected(loaded, select, exclude)]
    if fmt == "json":
        _emit_json({"schema_version": 1, "assets": list_records(assets)})
        return
    rows = [(a.name, a.kind, a.group, ", ".join(sorted(a.upstream))) for a in assets]
    _echo_table(("name", "kind", "group", "upstream"), rows)


def _echo_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@main.command()
@_selection_options
@_project_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "mermaid", "dot", "openlineage", "html"]),
    default="json",
    show_default=True,
    help="Export format.",
)
@click.option("--columns", is_flag=True, help="JSON: add column-level lineage of SQL assets.")
@click.option(
    "--status", "with_status", is_flag=True, help="Mermaid, DOT: colour assets by status."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)
def lineage(
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    project: Path | None,
    state: Path | None,
    fmt: str,
    columns: bool,
    with_status: bool,
    output: Path | None,
) -> None:
    """Export the lineage graph of the selected assets.

    JSON, OpenLineage and HTML include each asset's status, last materialization and
    schema; OpenLineage and HTML always include column lineage.
    """
    from assetflow import lineage as exports

    loaded = _load(project, state)
    names = _selected(loaded, select, exclude)
    if fmt in ("mermaid", "dot"):
        if columns:
            raise UsageError(
                f"--columns: {fmt} draws table lineage only; use --format json, "
                "openlineage or html for column lineage."
            )
        statuses = None
        if with_status:
            from assetflow.api import status as get_status

            statuses = {s.name: s.status.value for s in get_status(project=loaded, now=_now())}
        render = exports.to_mermaid if fmt == "mermaid" else exports.to_dot
        text = render(loaded.graph.subgraph(names), statuses)
    else:
        doc = exports.build_document(
            loaded, names, columns=columns or fmt != "json", details=fmt != "json", now=_now()
        )
        if fmt == "json":
            text = exports.to_json(doc)
        elif fmt == "openlineage":
            from assetflow.openlineage import default_namespace, locate, to_openlineage

            text = to_openlineage(doc, namespace=default_namespace(doc), locations=locate(loaded))
        else:
            from assetflow.html import to_html

            text = to_html(doc)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as e:
            reason = e.strerror or str(e)
            raise UsageError(
                f"-o {output}: cannot write it ({reason}); give a writable file."
            ) from e
        click.echo(f"Wrote {fmt} lineage of {len(names)} assets to {output}.", err=True)


@main.command()
@_selection_options
@_project_options
@click.option("--force", is_flag=True, help="Run every selected asset, fresh or not.")
@click.option("--dry-run", is_flag=True, help="Print the plan with causes; run nothing.")
@click.option(
    "-j", "--workers", type=click.IntRange(min=1), help="Assets run at once (default: cores)."
)
@click.option(
    "--executor",
    type=click.Choice(["threads", "processes", "dask", "inline"]),
    default="threads",
    show_default=True,
    help="Where Python assets compute (inline: one at a time in this thread, for "
    "debuggers); SQL assets always run in DuckDB here.",
)
@click.option(
    "--address", help="Dask scheduler address (default: DASK_SCHEDULER_ADDRESS, else local)."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary.")
@click.option("-v", "--verbose", is_flag=True, help="Also print fresh and planned assets.")
@click.option(
    "--openlineage",
    metavar="FILE_OR_URL",
    help="Also emit OpenLineage run events: appended to FILE as JSON lines, or POSTed to an "
    "http(s) URL (no path: /api/v1/lineage). Namespace: env OPENLINEAGE_NAMESPACE.",
)
@_format_option("text", "json", "jsonl")
def materialize(
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    project: Path | None,
    state: Path | None,
    force: bool,
    dry_run: bool,
    workers: int | None,
    executor: str,
    address: str | None,
    quiet: bool,
    verbose: bool,
    openlineage: str | None,
    fmt: str,
) -> None:
    """Materialize what is missing, stale, overdue or failed (default: everything).

    Progress goes to stderr: a live view on a terminal, one line per event under
    CI, NO_COLOR, TERM=dumb or when stderr is not a terminal. --format jsonl
    streams every event as a JSON line on stdout; --format json prints one
    document at the end.
    """
    from assetflow import report
    from assetflow.api import materialize as run
    from assetflow.progress import make_reporter

    with _stdout_to_stderr(fmt != "text"):
        loaded = _load(project, state)
    if dry_run:
        plan = run(list(select), exclude=list(exclude), project=loaded, force=force, dry_run=True)
        if fmt == "text":
            click.echo(report.run_text(plan))
        else:
            _emit_json(report.run_json(plan))
        return
    verbosity = -1 if quiet or fmt == "json" else (1 if verbose else 0)
    reporter = make_reporter(
        mode="jsonl" if fmt == "jsonl" else "auto", verbosity=verbosity, stdout=sys.stdout
    )
    on_event: Callable[[Any], None] = reporter
    emitter = None
    if openlineage:
        from assetflow import openlineage as ol

        emitter = ol.RunEventEmitter(
            openlineage,
            graph=loaded.graph,
            namespace=ol.default_namespace(loaded.config.root.name),
            locations=ol.locate(loaded),
            warn=lambda message: click.echo(message, err=True),
        )
        on_event = _both(reporter, emitter)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with _stdout_to_stderr(fmt != "text"):
            result = run(
                list(select),
                exclude=list(exclude),
                project=loaded,
                force=force,
                executor=executor,
                workers=workers,
                address=address,
                on_event=on_event,
                on_notice=lambda message: click.echo(message, err=True),
                now=_now(),
            )
    finally:
        reporter.close()
        if emitter is not None:
            emitter.close()
        signal.signal(signal.SIGTERM, previous)
    if fmt == "json":
        _emit_json(report.run_json(result))
    elif result.run_id is None:
        click.echo(report.run_text(result), err=True)
    elif fmt == "text" and report.failures_text(result):
        # The live lines said what happened; the end says why things failed.
        click.echo("\n" + report.failures_text(result), err=True)
    if not result.ok:
        sys.exit(EXIT_FAILED)


def _stdout_to_stderr(machine: bool) -> contextlib.AbstractContextManager[Any]:
    """For machine output, which owns stdout: what asset code prints outside its attempts
    (at import, from threads it starts) goes to stderr. What an attempt prints is captured."""
    return contextlib.redirect_stdout(sys.stderr) if machine else contextlib.nullcontext()


def _both(first: Callable[[Any], None], second: Callable[[Any], None]) -> Callable[[Any], None]:
    def subscriber(event: Any) -> None:
        first(event)
        second(event)

    return subscriber


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM cancels a run the way Ctrl-C does.
    raise KeyboardInterrupt


def _now() -> Any:
    """The time to judge freshness at: ASSETFLOW_NOW (ISO 8601, for tests and demos), else None."""
    raw = os.environ.get("ASSETFLOW_NOW")
    if not raw:
        return None
    import datetime as dt

    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        from assetflow.errors import UsageError

        raise UsageError(
            f"ASSETFLOW_NOW={raw!r} is not an ISO 8601 time such as 2026-11-01T07:30:00+00:00."
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@main.command()
@_selection_options
@_project_options
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    type=click.Choice(["missing", "stale", "failed", "overdue", "check"]),
    help="Finding kinds that fail the check (repeatable; default: all).",
)
@click.option("--strict", is_flag=True, help="Warnings fail the check too.")
@click.option(
    "--junit-xml",
    "junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a JUnit XML report to FILE.",
)
@click.option(
    "--definitions",
    is_flag=True,
    help="Only check definitions: everything parses (SQL in DuckDB too), resolves, has no "
    "cycle, and SQL assets bind to the columns they read.",
)
@_format_option("text", "json")
def check(
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    project: Path | None,
    state: Path | None,
    fail_on: tuple[str, ...],
    strict: bool,
    junit: Path | None,
    definitions: bool,
    fmt: str,
) -> None:
    """For CI: report stale, missing, failed and overdue assets and failing checks; exit 1 on any.

    Nothing is materialized, and the state is only read. Under GITHUB_ACTIONS=true,
    findings are also written as annotations and a table in $GITHUB_STEP_SUMMARY.
    """
    from assetflow import findings as render

    loaded = _load(project, state)
    names = [n for n in _selected(loaded, select, exclude)]
    if definitions:
        from assetflow.sql_bind import bind_findings

        found = [*bind_findings(loaded, names), *_note_findings(loaded, names)]
        if not found:
            doc = {"schema_version": 1, "ok": True, "assets": len(names)}
            if fmt == "json":
                _emit_json(doc)
            else:
                click.echo(f"The project's {len(names)} assets and sources load and resolve.")
            return
        evaluated = [render.Evaluated(n, loaded.graph[n].file) for n in names]
        failed = [f for f in found if f.severity == "error"]
    else:
        import datetime as dt

        from assetflow.audit import audit

        now = _now() or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        found, evaluated = audit(loaded, names, now=now)
        failed = render.failing(found, fail_on=fail_on or render.KINDS, strict=strict)
    if junit is not None:
        junit.write_text(render.to_junit(found, evaluated), encoding="utf-8")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        stream = sys.stderr if fmt == "json" else sys.stdout
        for line in render.github_annotations(found):
            print(line, file=stream)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(render.step_summary(found, evaluated, failed=failed))
    if fmt == "json":
        _emit_json(render.to_json(found, evaluated, failed=failed))
    else:
        click.echo(render.text_summary(found, evaluated, failed=failed))
    if failed:
        sys.exit(EXIT_USAGE if definitions else EXIT_FAILED)


@main.command()
@_selection_options
@_project_options
@click.option("--why", "why", metavar="ASSET", help="Explain every cause of one asset's status.")
@_format_option("text", "json")
def status(
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    project: Path | None,
    state: Path | None,
    why: str | None,
    fmt: str,
) -> None:
    """Show each asset's status (missing, stale, overdue, failed, fresh) and why."""
    from assetflow import report
    from assetflow.api import status as get_status

    loaded = _load(project, state)
    if why is not None:
        select, exclude = (_asset_name(loaded, why),), ()
    statuses = get_status(list(select), exclude=list(exclude), project=loaded, now=_now())
    if fmt == "json":
        _emit_json(report.status_json(statuses))
    elif why is not None:
        from assetflow.fingerprint import code_version_notes

        notes = code_version_notes(loaded.graph, loaded.project.package, [select[0]])
        click.echo(report.why_text(statuses[0], notes.get(select[0], ())))
    else:
        _echo_table(("asset", "status", "last materialized", "cause"), report.status_rows(statuses))


def _note_findings(loaded: Any, names: list[str]) -> list[Any]:
    """Warnings for Python assets whose code versions see a module value only roughly."""
    from assetflow.findings import Finding
    from assetflow.fingerprint import code_version_notes

    graph = loaded.graph
    notes = code_version_notes(graph, loaded.project.package, names)
    return [
        Finding(name, "definition", "warn", note, graph[name].file, graph[name].line)
        for name, sentences in notes.items()
        for note in sentences
    ]


def _asset_name(loaded: Any, name: str) -> str:
    from assetflow.errors import UnknownAssetError

    found = loaded.graph.lookup(name)
    if found is None:
        hint = loaded.graph.suggest(name)
        fix = f"did you mean {hint!r}?" if hint else "run 'assetflow list' to see the assets."
        raise UnknownAssetError(f"{name!r} is not an asset or source; {fix}")
    return str(found)


@main.command()
@click.argument("asset")
@_project_options
@click.option(
    "--limit", type=_Limit(min=1), default=20, show_default=True, help="How many attempts to show."
)
@click.option(
    "--output", "with_output", is_flag=True, help="Print what each attempt printed and logged."
)
@_format_option("text", "json")
def history(
    asset: str, project: Path | None, state: Path | None, limit: int, with_output: bool, fmt: str
) -> None:
    """Show the latest materialization attempts of ASSET, newest first.

    JSON always includes each attempt's output (the last 64 KiB of what it printed).
    """
    from assetflow import report
    from assetflow.state import StateStore

    loaded = _load(project, state)
    name = _asset_name(loaded, asset)
    rows = StateStore(loaded.config.state_dir).history(name, limit)
    if fmt == "json":
        _emit_json(report.history_json(name, rows))
        return
    if not rows:
        click.echo(f"{name} has never been materialized.")
        return
    if with_output:
        click.echo(report.history_output_text(rows))
        return
    header = ("run", "outcome", "finished", "rows", "code", "data", "error")
    _echo_table(header, report.history_rows(rows))


@main.group(invoke_without_command=True)
@_project_options
@click.option(
    "--limit", type=_Limit(min=1), default=20, show_default=True, help="How many runs to list."
)
@_format_option("text", "json")
@click.pass_context
def runs(
    ctx: click.Context, project: Path | None, state: Path | None, limit: int, fmt: str
) -> None:
    """List recent runs, newest first; 'runs show ID' shows one."""
    if ctx.invoked_subcommand is not None:
        return
    from assetflow import report
    from assetflow.state import StateStore

    loaded = _load(project, state)
    found = StateStore(loaded.config.state_dir).runs(limit)
    if fmt == "json":
        _emit_json(report.runs_json(found))
    elif not found:
        click.echo("No runs yet.")
    else:
        header = ("run", "started", "took", "outcome", "counts", "by")
        _echo_table(header, report.runs_rows(found))


@runs.command("show")
@click.argument("run_id", type=int)
@_project_options
@_format_option("text", "json")
def runs_show(run_id: int, project: Path | None, state: Path | None, fmt: str) -> None:
    """Show run RUN_ID: who, where, when, how, and every attempt in it."""
    from assetflow import report
    from assetflow.errors import UsageError
    from assetflow.state import StateStore

    loaded = _load(project, state)
    store = StateStore(loaded.config.state_dir)
    found = store.runs(1, run_id=run_id)
    if not found:
        raise UsageError(f"there is no run {run_id}; 'assetflow runs' lists the recorded runs.")
    attempts = store.run_materializations(run_id)
    if fmt == "json":
        _emit_json(report.run_detail_json(found[0], attempts))
    else:
        click.echo(report.run_detail_text(found[0], attempts))


@main.command()
@click.argument("asset")
@_project_options
@click.option(
    "--limit",
    type=_Limit(min=0),
    default=10,
    show_default=True,
    help="How many rows to show (0: only the columns).",
)
@click.option(
    "-a",
    "--all-columns",
    "every_column",
    is_flag=True,
    help="Show every column, however wide (on a terminal, through a pager when too wide).",
)
@_format_option("text", "json")
def show(
    asset: str,
    project: Path | None,
    state: Path | None,
    limit: int,
    every_column: bool,
    fmt: str,
) -> None:
    """Preview the current data of ASSET (text: as many columns as fit, or --all-columns)."""
    import shutil

    from assetflow.query import preview

    loaded = _load(project, state)
    name = _asset_name(loaded, asset)
    doc, text = preview(loaded, name, limit, every_column)
    if fmt == "json":
        _emit_json(doc)
    elif every_column and sys.stdout.isatty() and _widest(text) > shutil.get_terminal_size()[0]:
        click.echo_via_pager(text + "\n")  # a pager scrolls sideways (less -S); wrapping would not
    else:
        click.echo(text)


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


@main.command()
@click.argument("query")
@_project_options
@_format_option("text", "json")
def sql(query: str, project: Path | None, state: Path | None, fmt: str) -> None:
    """Run one read-only QUERY over the assets (by name) and the state (state.runs, ...)."""
    from assetflow.query import run_query

    loaded = _load(project, state)
    doc, text = run_query(loaded, query)
    if fmt == "json":
        _emit_json(doc)
    else:
        click.echo(text)


@main.command()
@_selection_options
@_project_options
@click.option(
    "--poll",
    is_flag=True,
    help="Poll for changes instead of OS notifications (network and container filesystems).",
)
@click.option(
    "-j", "--workers", type=click.IntRange(min=1), help="Assets run at once (default: cores)."
)
@click.option(
    "--executor",
    type=click.Choice(["threads", "processes", "inline"]),
    default="threads",
    show_default=True,
    help="Where Python assets compute (inline: one at a time in this thread).",
)
@click.pass_context
def watch(
    ctx: click.Context,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    project: Path | None,
    state: Path | None,
    poll: bool,
    workers: int | None,
    executor: str,
) -> None:
    """Materialize what is stale, then again whenever a saved file makes something stale.

    Watches the assets and checks folders, the config file and the files sources
    read; ignores the state folder, editor temporaries and what .gitignore ignores.
    A report per rebuild goes to stderr and ends with a line starting with ✓ or ✗.
    A broken save is reported and the last good definitions kept. Ctrl-C stops.
    """
    from assetflow.watch import watch as run_watch

    if (ctx.find_root().obj or {}).get("set"):
        # A rebuild reloads the project as saved: one run's overrides would not hold.
        raise UsageError(
            "watch takes run-time settings from the config and ASSETFLOW_SET_<NAME>, "
            "not --set; set the environment variable instead."
        )

    _now()  # a bad ASSETFLOW_NOW is a usage error now, not at each rebuild
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_watch(
            list(select),
            exclude=list(exclude),
            project=project,
            state=state,
            poll=poll,
            executor=executor,
            workers=workers,
            now=_now,
            debug=_debug(ctx),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)


def run() -> NoReturn:
    """The console entry point: run a command, then exit without interpreter teardown.

    Tearing the interpreter down (module finalizers, duckdb's static destructors)
    costs ~50 ms and does nothing a finished command needs: every file and
    connection is closed by then. Exit handlers still run, and output is flushed.

    The cyclic garbage collector runs every 50 000 allocations instead of 700:
    loading and planning a big project allocates hundreds of thousands of
    objects that live until the command ends, and the default threshold
    scanned them over and over (10-20% of a 10 000-asset lineage export).
    """
    gc.set_threshold(_GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe, say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
