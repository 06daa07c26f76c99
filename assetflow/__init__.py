"""assetflow: declare data assets in Python and SQL; materialize only what is stale.

The public API is what ``__all__`` lists. Heavy dependencies (duckdb, pyarrow,
sqlglot) are imported only when a function needs them, so ``import assetflow``
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assetflow.api import LoadedProject, load, materialize, status
    from assetflow.definition import (
        Asset,
        AssetFunction,
        AssetOptions,
        CheckFunction,
        CheckOutcome,
        Source,
        asset,
        check,
        export,
        source,
    )
    from assetflow.errors import (
        AssetflowError,
        CycleError,
        DefinitionError,
        DuplicateAssetError,
        InfrastructureError,
        MaterializationError,
        ProjectNotFoundError,
        SelectionError,
        SqlSyntaxError,
        StateError,
        StorageError,
        UnknownAssetError,
        UsageError,
    )
    from assetflow.graph import AssetGraph, build_graph

__version__ = "0.1.0"

__all__ = [
    "Asset",
    "AssetFunction",
    "AssetGraph",
    "AssetOptions",
    "AssetflowError",
    "CheckFunction",
    "CheckOutcome",
    "CycleError",
    "DefinitionError",
    "DuplicateAssetError",
    "InfrastructureError",
    "LoadedProject",
    "MaterializationError",
    "ProjectNotFoundError",
    "SelectionError",
    "Source",
    "SqlSyntaxError",
    "StateError",
    "StorageError",
    "UnknownAssetError",
    "UsageError",
    "asset",
    "build_graph",
    "check",
    "export",
    "load",
    "materialize",
    "source",
    "status",
]

# Every name is imported on first use, so that `import assetflow.cli` (and
# `assetflow --help`) pays only for what it runs.
_MODULE_OF = {
    "LoadedProject": "api",
    "load": "api",
    "materialize": "api",
    "status": "api",
    "Asset": "definition",
    "AssetFunction": "definition",
    "AssetOptions": "definition",
    "Source": "definition",
    "asset": "definition",
    "check": "definition",
    "export": "definition",
    "CheckFunction": "definition",
    "CheckOutcome": "definition",
    "source": "definition",
    "AssetGraph": "graph",
    "build_graph": "graph",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'assetflow' has no attribute {name!r}")
    module = importlib.import_module(f"assetflow.{_MODULE_OF.get(name, 'errors')}")
    value = getattr(module, name)
    globals()[name] = value
    return value
