"""The errors assetflow raises.

Every error a user can cause is an :class:`AssetflowError` whose message is one
sentence naming the file, asset or line and saying how to fix it. Only
``cli.py`` turns them into exit codes.

::

    AssetflowError
    ├── DefinitionError          a project that cannot load (exit 2)
    │   ├── ProjectNotFoundError no project root, or a bad config file
    │   ├── SqlSyntaxError       a .sql file that is not one allowed query
    │   ├── UnknownAssetError    an upstream or selected name that does not exist
    │   ├── DuplicateAssetError  two assets with one name, case-insensitively
    │   └── CycleError           assets that depend on themselves
    ├── UsageError               a command asked for something that cannot be (exit 2)
    │   └── SelectionError       a selection expression that does not parse
    ├── MaterializationError     user code or a query failed; original is __cause__ (exit 1)
    └── InfrastructureError      assetflow could not do its own job (exit 3)
        ├── StateError           the state database is unreadable or locked
        ├── StorageError         asset data cannot be written or read
        └── DiskError            a disk is full, read-only or not ours to write

The operating system's errors reach assetflow raw (``OSError``) or inside
DuckDB's and pyarrow's exceptions; :func:`disk_error` maps the ones that are
the user's environment, not a bug, into a :class:`DiskError` in one place.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path


class AssetflowError(Exception):
    """Base class of every error assetflow raises on purpose."""


class DefinitionError(AssetflowError):
    """A project, asset, source or ``.sql`` file that is not well defined."""


class ProjectNotFoundError(DefinitionError):
    """No project root was found, or its configuration is invalid."""


class SqlSyntaxError(DefinitionError):
    """A ``.sql`` file that does not parse or is not exactly one allowed query."""


class UnknownAssetError(DefinitionError):
    """A name that is neither an asset nor a source."""


class DuplicateAssetError(DefinitionError):
    """Two assets or sources whose names are equal case-insensitively."""


class CycleError(DefinitionError):
    """Assets whose dependencies form a cycle."""


class UsageError(AssetflowError):
    """A command asked for something that cannot be done as asked."""


class SelectionError(UsageError):
    """A selection expression that does not parse."""


class MaterializationError(AssetflowError):
    """User code or a SQL query failed while materializing an asset."""


class InfrastructureError(AssetflowError):
    """assetflow itself could not do its job: state, storage, locks."""


class StateError(InfrastructureError):
    """The state database could not be opened, read or written."""


class StorageError(InfrastructureError):
    """Asset data could not be written, published or read."""


class DiskError(InfrastructureError):
    """The file system refused a read or write: full, over quota, read-only, or not permitted.

    Attributes:
        path: the file or folder it refused, as named in the message.
        errno: the operating system's error number.
    """

    def __init__(self, message: str, path: str | None = None, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


# errno → what happened and how to fix it; "{path}" is the file or folder it happened to,
# "{elsewhere}" the way out when that is in the state folder (else empty).
_DISK_TROUBLE = {
    errno.ENOSPC: "the disk holding {path} is full; free some space on it{elsewhere}",
    errno.EDQUOT: "the disk quota for {path} is used up; free some space or ask for a larger "
    "quota{elsewhere}",
    errno.EFBIG: "{path} grew past the largest file this process may write; raise the limit "
    "(ulimit -f){elsewhere}",
    errno.EROFS: "{path} is on a read-only file system; make it writable{elsewhere}",
    errno.EACCES: "{path} is not accessible to this user (permission denied); give this user "
    "access to it{elsewhere}",
    errno.EPERM: "{path} may not be changed by this user (operation not permitted); give this "
    "user access to it{elsewhere}",
}
_ELSEWHERE = ", or keep the state folder elsewhere with --state DIR (or ASSETFLOW_STATE)"
#: The errors that only a write causes, so that a query reading a forbidden file of the
#: user's own is not mistaken for assetflow's storage.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
_BY_TEXT = {os.strerror(number).lower(): number for number in _DISK_TROUBLE}
# DuckDB names the file in its messages: `Could not write file "/x/state.duckdb.wal": ...`.
_QUOTED_PATH = re.compile(r"""(?:file|directory|pattern)\s+["']([^"']+)["']""", re.IGNORECASE)


def disk_error(
    error: BaseException,
    path: str | Path | None = None,
    *,
    errnos: frozenset[int] | None = None,
    state_dir: str | Path | None = None,
) -> DiskError | None:
    """The :class:`DiskError` behind ``error`` (or one of its causes), if it is one; else None.

    Recognizes an ``OSError`` with one of the errnos in the table above, and a DuckDB
    or pyarrow error whose message carries the operating system's text for one.

    Args:
        path: the file or folder to name when the error itself names none.
        errnos: the errnos to recognize (default: all of them).
        state_dir: the state folder, named when nothing else is, and which ``--state``
            can move: the sentence says so when the trouble is inside it.

    Example:
        >>> print(disk_error(OSError(errno.ENOSPC, "No space left on device", "/p/f")))
        the disk holding /p/f is full; free some space on it, then run the command again.
    """
    wanted = set(_DISK_TROUBLE) if errnos is None else errnos
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskError):
            return current
        number, named = _errno_and_path(current)
        if number is not None and number in wanted:
            fallback = path if path is not None else state_dir
            where = named or (str(fallback) if fallback is not None else "a file assetflow writes")
            if os.path.basename(where).startswith(".tmp-"):
                where = os.path.dirname(where)  # a temporary name means nothing to the user
            in_state = state_dir is not None and inside(where, state_dir)
            sentence = _DISK_TROUBLE[number].format(
                path=where, elsewhere=_ELSEWHERE if in_state else ""
            )
            return DiskError(f"{sentence}, then run the command again.", where, number)
        current = current.__cause__ or current.__context__
    return None


def inside(path: str, folder: str | Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it (neither need exist)."""
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))


def _errno_and_path(error: BaseException) -> tuple[int | None, str | None]:
    """The errno an error stands for, and the path it names, from its fields or its text."""
    text = str(error)
    named = _QUOTED_PATH.search(text)
    quoted = named[1] if named else None
    if isinstance(error, OSError) and error.errno in _DISK_TROUBLE:
        filename = error.filename if isinstance(error.filename, str) else quoted
        return error.errno, filename
    lowered = text.lower()
    for message, number in _BY_TEXT.items():
        if message in lowered:
            return number, quoted
    return None, None
