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
        └── StorageError         asset data cannot be written or read
"""

from __future__ import annotations


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
