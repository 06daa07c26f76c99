"""``assetflow init``: a new project, the shop example or an empty one, named after its folder.

Example:
    >>> project_name(Path("/tmp/My Pipeline"))
    'my-pipeline'
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

from assetflow.errors import DefinitionError

_EMPTY_README = """\
# {name}

An assetflow project. Put Python assets (`@asset` functions) and SQL assets
(one query per `.sql` file) under `assets/`, and the files they read under
`data/`, declared with `source("data/x.csv")`.

```sh
assetflow list          # what assetflow found
assetflow materialize   # build what is missing or stale
assetflow status        # fresh / stale / overdue / failed, per asset
```
"""

_EMPTY_PYPROJECT = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"

[tool.assetflow]
assets = "assets"
state = ".assetflow"
"""

_GITIGNORE = """\
# assetflow state and stored asset data
.assetflow/
__pycache__/
"""


def project_name(directory: Path) -> str:
    """A project name (PEP 508) from the folder's name: ``My Pipeline`` → ``my-pipeline``."""
    name = re.sub(r"[^a-z0-9._-]+", "-", directory.resolve().name.lower()).strip("-._")
    return name or "project"


def create_project(directory: Path, template: Path, *, empty: bool) -> None:
    """Create a project in ``directory`` (new or empty): the ``template`` example, or a minimal one.

    Raises:
        DefinitionError: ``directory`` exists and is not empty.
    """
    if directory.exists() and any(directory.iterdir()):
        raise DefinitionError(
            f"{directory} exists and is not empty; choose a new or empty directory."
        )
    name = project_name(directory)
    if empty:
        for folder in ("assets", "data"):
            (directory / folder).mkdir(parents=True, exist_ok=True)
        (directory / "pyproject.toml").write_text(_EMPTY_PYPROJECT.format(name=name))
        (directory / "README.md").write_text(_EMPTY_README.format(name=name))
        (directory / ".gitignore").write_text(_GITIGNORE)
        return
    shutil.copytree(
        template,
        directory,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".assetflow"),
    )
    config = directory / "pyproject.toml"
    text = config.read_text()
    config.write_text(re.sub(r'(?m)^name = ".*"$', f'name = "{name}"', text, count=1))
    readme = directory / "README.md"
    lines = readme.read_text().splitlines(keepends=True)
    if lines and lines[0].startswith("# shop"):
        lines[0] = f"# {name} — made from assetflow's example shop project\n"
        readme.write_text("".join(lines))


def command_used(argv0: str | None = None, path: str | None = None) -> str:
    """How to run assetflow again in this shell: ``assetflow`` if that is what ``PATH`` finds.

    Otherwise (a virtual environment that is not activated, ``python -m
    assetflow``) the path of what ran this time.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    on_path = shutil.which("assetflow", path=path)
    ran = Path(argv0)
    if ran.name in ("assetflow", "assetflow.exe") and ran.exists():
        if on_path is not None and _same(Path(on_path), ran):
            return "assetflow"
        return shlex.quote(str(ran.absolute()))
    # python -m assetflow
    if on_path is not None and _same(Path(on_path).parent, Path(sys.executable).parent):
        return "assetflow"
    return f"{shlex.quote(sys.executable)} -m assetflow"


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
