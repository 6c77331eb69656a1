"""Checked reads of a parsed TOML table: each mistake a one-line ValueError naming its key.

``where`` is the dotted prefix of the table (``"node.ready."``), so a message reads
``node.ready.timeout_s: must be a number of seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REQUIRED = object()
MAX_SECONDS = 600
KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "a table"}
KIND_NAMES[list] = "a list"


def keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    """Refuse any key not in ``allowed``: a typo must not be silently ignored."""
    for key in table:
        if key not in allowed:
            raise ValueError(
                f"{where}{key}: unknown key; expected one of {', '.join(sorted(allowed))}"
            )


def missing(key: str) -> None:
    raise ValueError(f"{key}: missing")


def get(table: Mapping[str, Any], key: str, kind: type, where: str, default: Any = REQUIRED):
    """``table[key]`` of type ``kind`` (a bool is not an int), or ``default`` when absent."""
    if key not in table:
        if default is REQUIRED:
            missing(where + key)
        return default
    value = table[key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ValueError(f"{where}{key}: must be {KIND_NAMES.get(kind, kind.__name__)}")
    return value


def str_list(table: Mapping[str, Any], key: str, where: str, default: Any = REQUIRED) -> list:
    value = get(table, key, list, where, default)
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}{key}: must be a list of strings")
    return list(value)


def choice(table: Mapping[str, Any], key: str, choices: tuple[str, ...], where: str, default=None):
    value = get(table, key, str, where, default or choices[0])
    if value not in choices:
        raise ValueError(f"{where}{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def seconds(table: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not 0 < value <= MAX_SECONDS:
        raise ValueError(f"{where}{key}: must be a number of seconds, 0 < s <= {MAX_SECONDS}")
    return float(value)
