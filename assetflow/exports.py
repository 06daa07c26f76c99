"""Exports: files an asset's value is written to, outside the state folder, tracked.

After a materialization passes its checks, the coordinator writes each export
(to a hidden temporary name beside it, renamed into place) and records, in
``<state>/exports/<asset>.json``, the materialization it wrote and each file's
size, ``mtime_ns`` and content hash. Planning compares the files with that
record: a file that is gone, or whose content differs, makes the asset stale,
and so does a record of another materialization (a run killed between writing
the files and recording the value). Like a file source, a file whose size and
``mtime_ns`` are the recorded ones is not read again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from assetflow.definition import Asset, Export
from assetflow.errors import MaterializationError

EXPORTS_DIR = "exports"
_CHUNK = 1 << 20


def write_exports(
    asset: Asset,
    mat_id: int,
    value: Any,
    *,
    root: Path,
    state_dir: Path,
    convert: Callable[[Any, Callable[..., Any], str], Any],
) -> None:
    """Write each export of ``asset`` from ``value``, then record them for ``mat_id``.

    Args:
        convert: gives the value in the form a writer's first parameter asks for.

    Raises:
        MaterializationError: a writer failed; its error is ``__cause__``.
    """
    files: dict[str, list[Any]] = {}
    for e in asset.options.exports:
        target = root / e.path
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp{target.suffix}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(e, convert, value, tmp)
            os.replace(tmp, target)
        except MaterializationError:
            raise
        except Exception as err:
            raise MaterializationError(
                f"{asset.where}: export {e.path}: {type(err).__name__}: {err}"
            ) from err
        finally:
            tmp.unlink(missing_ok=True)
        st = target.stat()
        files[e.path] = [st.st_size, st.st_mtime_ns, _hash(target)]
    record = state_dir / EXPORTS_DIR / f"{asset.name}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"id": mat_id, "files": files}))
    os.replace(tmp, record)


def export_problems(asset: Asset, mat_id: int, *, root: Path, state_dir: Path) -> list[str]:
    """Why the exports of ``asset`` are not what materialization ``mat_id`` wrote (none: intact)."""
    try:
        record = json.loads((state_dir / EXPORTS_DIR / f"{asset.name}.json").read_text())
        written: Mapping[str, list[Any]] = record["files"] if record["id"] == mat_id else {}
    except (OSError, ValueError, KeyError, TypeError):
        written = {}
    problems = []
    for e in asset.options.exports:
        seen = written.get(e.path)
        target = root / e.path
        try:
            st = target.stat()
        except OSError:
            problems.append(f"export {e.path} is gone")
            continue
        if not isinstance(seen, list) or len(seen) != 3:
            problems.append(f"export {e.path} was not written by the current materialization")
        elif (st.st_size, st.st_mtime_ns) != (seen[0], seen[1]) and _hash(target) != seen[2]:
            problems.append(f"export {e.path} was changed")
    return problems


def _write(e: Export, convert: Callable[..., Any], value: Any, path: Path) -> None:
    if e.writer is not None:
        e.writer(convert(value, e.writer, e.path), path, **dict(e.options))
        return
    suffix = path.suffix
    if suffix == ".json":
        with open(path, "w") as f:
            json.dump(value, f, default=str, **dict(e.options))
        return
    import pyarrow as pa

    table = convert(value, _arrow_writer, e.path)
    if not isinstance(table, pa.Table):
        raise MaterializationError(
            f"export {e.path} writes tables, but the value is a {type(value).__name__}; "
            "pass export(path, writer)."
        )
    if suffix == ".csv":
        import pyarrow.csv as csv

        csv.write_csv(table, path, **dict(e.options))
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path, **dict(e.options))


def _arrow_writer(table: Any, path: Path) -> None:  # pragma: no cover - an annotation carrier
    """Stands for the built-in writers: they take an Arrow table."""


_arrow_writer.__annotations__ = {"table": "pyarrow.Table", "path": "pathlib.Path"}


def _hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
