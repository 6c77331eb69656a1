"""File-name validation: a name is a plain file name that can never leave the data directory."""

from __future__ import annotations

from .config import MAX_NAME_BYTES

FORBIDDEN_NAMES = {"", ".", ".."}


class BadName(ValueError):
    """A file name a client sent that we refuse to store or serve."""


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe plain file name, else raise ``BadName`` saying why."""
    if not isinstance(name, str):
        raise BadName("file name must be a string")
    if "\x00" in name:
        raise BadName("file name contains a NUL byte")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise BadName("file name is not valid UTF-8") from None
    if len(encoded) > MAX_NAME_BYTES:
        raise BadName(f"file name longer than {MAX_NAME_BYTES} bytes")
    if name in FORBIDDEN_NAMES or name.strip() != name:
        raise BadName(f"invalid file name {name!r}")
    if "/" in name or "\\" in name:
        raise BadName("file name must not contain a path separator")
    if name.startswith(".") or any(ord(c) < 32 for c in name):
        raise BadName("file name must not be hidden or contain control characters")
    return name
