"""Run-time settings: typed values declared in the project, overridden per environment and run.

A project declares its settings with their defaults in ``[tool.assetflow.settings]``
(or ``[settings]`` of ``assetflow.toml``); a default's type (string, integer,
number, true/false) is the setting's type. ``ASSETFLOW_SET_<NAME>`` overrides a
default, and ``--set name=value`` overrides both for one command. A Python asset
receives a setting by naming it as a parameter, and the setting's value is part
of that asset's code version (:func:`with_settings`).

Example:
    >>> parse_value("limit", "20", 10, "--set")
    20
    >>> parse_value("strict", "yes", False, "--set")
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import blake2b
from typing import Any

from assetflow.errors import ProjectNotFoundError, UsageError

ENV_PREFIX = "ASSETFLOW_SET_"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def declared_settings(table: object, where: str) -> dict[str, Any]:
    """The settings table of a config file, checked: identifiers with scalar defaults.

    Raises:
        ProjectNotFoundError: the table is not a table, or a name or default is not valid.
    """
    from assetflow.definition import validate_name
    from assetflow.errors import DefinitionError

    if not isinstance(table, Mapping):
        raise ProjectNotFoundError(f"{where}: 'settings' must be a table of name = default.")
    for name, value in table.items():
        try:
            validate_name(name, f"{where}: settings")
        except DefinitionError as e:
            raise ProjectNotFoundError(str(e)) from None
        if not isinstance(value, (bool, int, float, str)):
            raise ProjectNotFoundError(
                f"{where}: setting {name} = {value!r} must default to a string, an integer, "
                "a number or true/false; fix it."
            )
    return dict(table)


def resolve_settings(
    defaults: Mapping[str, Any], environ: Mapping[str, str], overrides: Mapping[str, str]
) -> dict[str, Any]:
    """Each setting's value: ``--set`` > ``ASSETFLOW_SET_<NAME>`` > the config's default.

    Raises:
        UsageError: an override names no declared setting, or does not parse as its type.
    """
    lower = {name.lower(): name for name in defaults}
    values = dict(defaults)
    for name, default in defaults.items():
        key = ENV_PREFIX + name.upper()
        if key in environ:
            values[name] = parse_value(name, environ[key], default, key)
    for given, text in overrides.items():
        found = lower.get(given.lower())
        if found is None:
            known = ", ".join(sorted(defaults)) or "none are declared"
            raise UsageError(
                f"--set {given}: no such setting; declare it in [tool.assetflow.settings] "
                f"(settings: {known})."
            )
        values[found] = parse_value(found, text, defaults[found], "--set")
    return values


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``--set name=value`` options as a mapping (the last one of a name wins).

    Raises:
        UsageError: an item has no ``=``.
    """
    found = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"--set {item!r}: write --set name=value.")
        found[name.strip()] = value
    return found


def parse_value(name: str, text: str, default: Any, where: str) -> Any:
    """``text`` as a value of the type of ``default``.

    Raises:
        UsageError: it does not parse as that type.
    """
    kind = type(default)
    try:
        if kind is bool:
            word = text.strip().lower()
            if word in _TRUE | _FALSE:
                return word in _TRUE
            raise ValueError(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise UsageError(
            f"{where}: setting {name} must be {_TYPE_WORDS[kind]}, not {text!r}."
        ) from None
    return text


def with_settings(
    code: Mapping[str, str], readers: Mapping[str, tuple[str, ...]], values: Mapping[str, Any]
) -> dict[str, str]:
    """Code versions with the values of the settings each asset reads folded in.

    Args:
        code: code versions by asset.
        readers: for each asset that reads settings, their names.
        values: each setting's value for this run.
    """
    out = dict(code)
    for name, read in readers.items():
        if name in out and read:
            h = blake2b(out[name].encode(), digest_size=16)
            for setting in sorted(read):
                value = values[setting]
                h.update(f"\0{setting}\0{type(value).__name__}:{value!r}".encode())
            out[name] = h.hexdigest()
    return out
