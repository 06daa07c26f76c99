"""Which version of an asset's checks judged its current data.

After a materialization's checks pass, or after its checks are re-evaluated on
its current data, ``<state>/verdicts/<asset>.json`` records the materialization
id and the version of the checks (:func:`assetflow.fingerprint.check_versions`).
A record that is missing, unreadable, or of another materialization means the
checks have not judged the current data in their current version, so they are
evaluated again: every failure errs toward checking, never toward a stale verdict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

VERDICTS_DIR = "verdicts"


def record_verdict(state_dir: Path, asset: str, mat_id: int, version: str) -> None:
    """Record that checks of ``version`` judged materialization ``mat_id`` of ``asset``."""
    path = state_dir / VERDICTS_DIR / f"{asset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"id": mat_id, "version": version}))
    os.replace(tmp, path)


def judged(state_dir: Path, asset: str, mat_id: int, version: str) -> bool:
    """Whether checks of ``version`` judged materialization ``mat_id`` of ``asset``."""
    try:
        data = json.loads((state_dir / VERDICTS_DIR / f"{asset}.json").read_text())
        return bool(data["id"] == mat_id and data["version"] == version)
    except (OSError, ValueError, KeyError, TypeError):
        return False
