"""The published catalog: ``<state>/catalog.duckdb``, one view per table asset and file source.

A user opens it with plain DuckDB and runs ``SELECT * FROM daily_revenue``.
Views point at the current Parquet file of each asset by absolute path. The
catalog is published at the end of every run (and at the start of the run after
a killed one), before any old version is deleted, and only when that mapping
changed: a copy of it is changed and renamed over it, so a program holding the
catalog open never blocks a run and keeps reading the version it opened.
``assetflow sql`` does not read this file: it builds its views from the state.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.observation import is_glob, read_function
from assetflow.parquet import table_query
from assetflow.project import Config
from assetflow.reader import read_query
from assetflow.state import Materialization
from assetflow.storage import TABLE

if TYPE_CHECKING:
    import duckdb

CATALOG_FILE = "catalog.duckdb"
_MANIFEST = "catalog.json"

log = logging.getLogger("assetflow")


def catalog_views(
    config: Config,
    current: Mapping[str, Materialization],
    sources: Mapping[str, str],
    readers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """View name → the query it stands for: every current table, and every file source.

    Args:
        readers: file source name → its DuckDB reader options (``Source.reader``).
    """
    views: dict[str, str] = {}
    for name, m in sorted(current.items()):
        if m.format == TABLE and m.location:
            views[name] = table_query(config.state_dir / m.location, m.schema)
    for name, path in sorted(sources.items()):
        fn = read_function(path)
        full = Path(path) if Path(path).is_absolute() else config.root / path
        # A view over a missing file would fail to create; it appears once the file does.
        if fn and (glob.glob(str(full)) if is_glob(path) else full.is_file()):
            views.setdefault(name, read_query(fn, str(full), (readers or {}).get(name, "")))
    return views


def update_catalog(
    config: Config,
    current: Mapping[str, Materialization],
    sources: Mapping[str, str],
    readers: Mapping[str, str] | None = None,
) -> bool:
    """Publish the catalog if its views changed; return whether it is now current.

    ``False`` means it could not be written (with a warning): it still shows what
    it showed, so the files it points at must not be deleted yet.

    Args:
        current: the current materialization of each asset.
        sources: file source name → its path (relative to the root, or absolute).
    """
    import duckdb

    views = catalog_views(config, current, sources, readers)
    manifest = config.state_dir / _MANIFEST
    catalog = config.state_dir / CATALOG_FILE
    if not catalog.is_file() and not views:
        return True
    published = _read_manifest(manifest) if catalog.is_file() else None
    if published == views:
        return True
    tmp = catalog.with_name(f".{CATALOG_FILE}.tmp-{uuid.uuid4().hex}")
    # Change a copy of the published catalog (faster than rewriting thousands of views),
    # unless it may not hold what the manifest says: a write-ahead log left by a crash.
    wal = catalog.with_name(catalog.name + ".wal")
    incremental = published is not None and not wal.exists()
    try:
        if incremental:
            shutil.copyfile(catalog, tmp)
        _write_views(duckdb.connect(str(tmp)), views, published if incremental else None)
        wal.unlink(missing_ok=True)
        os.replace(tmp, catalog)
    except (duckdb.Error, OSError) as e:
        # The catalog is a convenience: a bad file must not fail a run; the next run retries.
        log.warning("catalog %s not updated: %s", catalog, str(e).strip().splitlines()[0])
        return False
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    text = json.dumps(views, indent=1, sort_keys=True)
    manifest_tmp = manifest.with_name(f".{_MANIFEST}.tmp-{uuid.uuid4().hex}")
    manifest_tmp.write_text(text)
    os.replace(manifest_tmp, manifest)
    return True


def _read_manifest(path: Path) -> dict[str, str] | None:
    try:
        views = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return views if isinstance(views, dict) else None


def _write_views(
    con: duckdb.DuckDBPyConnection, views: Mapping[str, str], published: Mapping[str, str] | None
) -> None:
    """Make the catalog's views ``views``; ``published`` is what it holds now, if known."""
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
            if published is not None and name in existing and published.get(name) == query:
                continue
            con.execute(f"CREATE OR REPLACE VIEW {_ident(name)} AS {query}").fetchall()
        con.execute("COMMIT")
    finally:
        con.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
