"""Importing project files with bytecode checked against the source's content, not its clock.

Python's own ``.pyc`` files are trusted while the source keeps its size and its
modification time in whole seconds. Two saves of the same size within one
second (an editor's save and its formatter's, a quick fix of a digit) leave
the first save's bytecode in use, while assetflow's code version, parsed from
the file, already says the second: a run would store the old code's output
under the new code's version. :class:`SourceLoader` keeps its own cache file
beside Python's, named by the interpreter's magic number and validated by a
digest of the source bytes, so the code that runs is always the code on disk.

Example:
    >>> import importlib.util
    >>> importlib.util.MAGIC_NUMBER == MAGIC
    True
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import sys
from collections.abc import Sequence
from hashlib import blake2b
from types import CodeType, ModuleType

MAGIC = importlib.util.MAGIC_NUMBER
_DIGEST = 16
PREFIX = "_assetflow_"  # the packages project files are imported under: _assetflow_1, ...


class SourceLoader(importlib.machinery.SourceFileLoader):
    """A source file loader whose bytecode cache is keyed by the source's content."""

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        # The path too: compiled code names its file, and a copied project must not
        # run code that says it lives in the original.
        digest = blake2b(path.encode() + b"\0" + source, digest_size=_DIGEST).digest()
        cache = _cache_path(path)
        try:
            with open(cache, "rb") as f:
                data = f.read()
            if data[: len(MAGIC)] == MAGIC and data[len(MAGIC) : len(MAGIC) + _DIGEST] == digest:
                code = marshal.loads(data[len(MAGIC) + _DIGEST :])
                if isinstance(code, CodeType):
                    return code
        except (OSError, ValueError, EOFError, TypeError):
            pass  # no cache, or a damaged one: compile
        code = self.source_to_code(source, path)
        if not sys.dont_write_bytecode:  # PYTHONDONTWRITEBYTECODE, -B: as Python's own
            _write(cache, MAGIC + digest + marshal.dumps(code))
        return code


def _cache_path(source: str) -> str:
    directory, name = os.path.split(source)
    stem = name.rpartition(".")[0]
    tag = sys.implementation.cache_tag or "python"
    return os.path.join(directory, "__pycache__", f"{stem}.{tag}.assetflow.pyc")


def _write(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:  # a read-only project: compiling each time is only slower
        with contextlib.suppress(OSError):
            os.unlink(tmp)


class _ProjectFinder(importlib.abc.MetaPathFinder):
    """Finds the modules a project file imports from the project (``from ._lib import x``)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PREFIX) or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = SourceLoader(fullname, spec.loader.path)
        return spec


def install_finder() -> None:
    """Make the project's own imports load through :class:`SourceLoader` too (once)."""
    if not any(isinstance(f, _ProjectFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ProjectFinder())
