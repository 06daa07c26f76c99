"""The published catalog: ``<state>/catalog.duckdb``, one view per table asset and file source.

A user opens it with plain DuckDB and runs ``SELECT * FROM daily_revenue``.
Views point at the current Parquet file of each asset by absolute path, and
the catalog is rewritten only when that mapping changes. A catalog held open
by another program is left alone with a warning; the next run retries.
"""

from __future__ import annotations

import glob
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.observation import is_glob, read_function
from assetflow.parquet import table_query
from assetflow.project import Config
from assetflow.state import Materialization
from assetflow.storage import TABLE

if TYPE_CHECKING:
    import duckdb

CATALOG_FILE = "catalog.duckdb"
_MANIFEST = "catalog.json"

log = logging.getLogger("assetflow")


def catalog_views(
    config: Config, current: Mapping[str, Materialization], sources: Mapping[str, str]
) -> dict[str, str]:
    """View name → the query it stands for: every current table, and every file source."""
    views: dict[str, str] = {}
    for name, m in sorted(current.items()):
        if m.format == TABLE and m.location:
            views[name] = table_query(config.state_dir / m.location, m.schema)
    for name, path in sorted(sources.items()):
        fn = read_function(path)
        full = Path(path) if Path(path).is_absolute() else config.root / path
        # A view over a missing file would fail to create; it appears once the file does.
        if fn and (glob.glob(str(full)) if is_glob(path) else full.is_file()):
            views.setdefault(name, f"SELECT * FROM {fn}({_quote(full)})")
    return views


def update_catalog(
    config: Config, current: Mapping[str, Materialization], sources: Mapping[str, str]
) -> bool:
    """Rewrite the catalog if its views changed; return whether it was rewritten.

    Args:
        current: the current materialization of each asset.
        sources: file source name → its path (relative to the root, or absolute).
    """
    import duckdb

    views = catalog_views(config, current, sources)
    manifest = config.state_dir / _MANIFEST
    catalog = config.state_dir / CATALOG_FILE
    if not catalog.is_file() and not views:
        return False
    if catalog.is_file() and manifest.is_file() and json.loads(manifest.read_text()) == views:
        return False
    try:
        _write_views(duckdb.connect(str(catalog)), views)
    except duckdb.Error as e:
        # The catalog is a convenience: a user's open session or a bad file must not fail a run.
        log.warning("catalog %s not updated: %s", catalog, str(e).strip().splitlines()[0])
        return False
    manifest.write_text(json.dumps(views, indent=1, sort_keys=True))
    return True


def _write_views(con: duckdb.DuckDBPyConnection, views: Mapping[str, str]) -> None:
    try:
        con.execute("BEGIN")
        existing = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() "
                "WHERE NOT internal AND database_name = current_database()"
            ).fetchall()
        }
        for name in existing - set(views):
            con.execute(f"DROP VIEW {_ident(name)}").fetchall()
        for name, query in views.items():
            con.execute(f"CREATE OR REPLACE VIEW {_ident(name)} AS {query}").fetchall()
        con.execute("COMMIT")
    finally:
        con.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
