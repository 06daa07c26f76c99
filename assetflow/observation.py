"""Observing sources: the version of an external file (or glob), or of an ``@source`` function.

A file source's version is a hash of its content. Its (size, mtime) are kept
with the version, and a file whose (size, mtime) did not change since the last
observation is not read again; a ``touch`` re-reads it and finds the same
version. Like git's index, a file modified less than two seconds before it was
read is not vouched for by its (size, mtime): a rewrite of the same size within
the file system's timestamp granularity would look unchanged, so such a file is
read again next time.
"""

from __future__ import annotations

import glob
import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from assetflow import reader
from assetflow.definition import Asset
from assetflow.state import Observation

_GLOB_CHARS = frozenset("*?[")
_CHUNK = 1 << 20
_RACY_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source as observed now: its version, or why it has none."""

    version: str | None
    stat_key: str | None = None
    detail: str = ""  # for a missing source: " (data/x.csv not found)"

    @property
    def present(self) -> bool:
        return self.version is not None


def is_glob(pattern: str) -> bool:
    """Whether a source path is a glob pattern."""
    return bool(_GLOB_CHARS & set(pattern))


def source_files(asset: Asset, root: Path) -> list[Path]:
    """The files a file source stands for (sorted), possibly none."""
    assert asset.source is not None and asset.source.path is not None
    pattern = asset.source.path
    full = Path(pattern) if os.path.isabs(pattern) else root / pattern
    if is_glob(pattern):
        return sorted(Path(p) for p in glob.glob(str(full), recursive=True) if os.path.isfile(p))
    return [full] if full.is_file() else []


def observe(
    asset: Asset, root: Path, previous: Observation | None, *, now_ns: int | None = None
) -> SourceState:
    """Observe one source, reusing ``previous`` when its files did not change.

    Args:
        now_ns: The clock in nanoseconds since the epoch (default: read it), for the
            two seconds within which a file's (size, mtime) vouch for nothing.
    """
    src = asset.source
    assert src is not None
    if src.observe is not None:
        try:
            return SourceState(str(src.observe()))
        except Exception as e:
            return SourceState(None, detail=f" (its observer raised {type(e).__name__}: {e})")
    files = source_files(asset, root)
    if not files:
        return SourceState(None, detail=f" ({src.path} not found)")
    stats = [(f, f.stat()) for f in files]
    # Reader options change the table read from the same bytes: they are part of the version.
    read_with = f"\nreader|{src.reader}" if src.reader else ""
    if src.read is not None:
        # A Python reader: its code and bound arguments make the table, like options do.
        read_with += f"\nread|{_describe_read(src.read)}"
    stat_key: str | None = _digest(
        "\n".join(
            f"{f.relative_to(root) if f.is_relative_to(root) else f}|{s.st_size}|{s.st_mtime_ns}"
            for f, s in stats
        )
        + read_with
    )
    if previous is not None and previous.stat_key == stat_key:
        return SourceState(previous.version, stat_key)
    now_ns = time.time_ns() if now_ns is None else now_ns
    if any(s.st_mtime_ns > now_ns - _RACY_NS for _, s in stats):
        stat_key = None  # too recent to vouch for the content: read it again next time
    if len(files) == 1:
        version = _file_hash(files[0])
    else:
        version = _digest(
            "\n".join(f"{f.relative_to(root).as_posix()}|{_file_hash(f)}" for f in files)
        )
    if read_with:
        version = _digest(version + read_with)
    return SourceState(version, stat_key)


def observe_all(
    sources: list[Asset], root: Path, previous: Mapping[str, Observation]
) -> dict[str, SourceState]:
    """Observe every source in ``sources``."""
    return {a.name: observe(a, root, previous.get(a.name)) for a in sources}


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()[:32]


def _describe_read(read: object) -> str:
    from assetflow.values import describe_value

    return describe_value(read, lambda module: module.startswith("_assetflow_")).text


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def read_function(path: str) -> str:
    """The DuckDB table function that reads a source file, chosen by its extension."""
    return reader.read_function(path)
