"""A definition's templates: which ``{placeholders}`` exist and how one is replaced.

Only ``{word}`` (and ``{env:NAME}``) is a placeholder; any other brace is left as it is, so JSON
and YAML templates need no escaping. A placeholder that does not exist where it is used is a
mistake found when the definition is loaded, never a literal in a node's command line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

PEER_PREFIX = "peer_"
#: Known to every template: the run's facts, and braces for a literal ``{word}``.
RUN_PLACEHOLDERS = ("python", "here", "workdir", "token", "parent_pid", "lbrace", "rbrace")
#: Known per node (plus ``<port>_port`` for each declared port).
NODE_PLACEHOLDERS = ("name", "index", "host", "data_dir")
#: ``{env:NAME}``: the launcher's environment variable NAME (it must be set when loaded).
ENV_PREFIX = "env:"
PLACEHOLDER = re.compile(r"\{((?:env:)?[A-Za-z_][A-Za-z0-9_]*)\}")


def peer_values(peer: Mapping[str, str]) -> dict[str, str]:
    """A peer's node values under ``peer_`` names (``{peer_http}``, ``{peer_name}``...)."""
    return {PEER_PREFIX + k: v for k, v in peer.items()}


def render(template: str, values: Mapping[str, str], where: str) -> str:
    """Replace each ``{placeholder}``; any other brace is left as it is (JSON, YAML)."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith(ENV_PREFIX):
            return env_value(name, where)
        try:
            return values[name]
        except KeyError:
            raise ValueError(f"{where}: unknown placeholder {match.group(0)}") from None

    return PLACEHOLDER.sub(one, template)


def env_value(name: str, where: str) -> str:
    """The value of ``{env:NAME}``; unset is a mistake (an empty path would run elsewhere)."""
    try:
        return os.environ[name.removeprefix(ENV_PREFIX)]
    except KeyError:
        raise ValueError(f"{where}: {{{name}}}: environment variable not set") from None


def check_known(template: str, names: set[str], where: str) -> None:
    """ValueError (one line) when ``template`` names a placeholder not in ``names`` (or an
    unset environment variable)."""
    for found in PLACEHOLDER.findall(template):
        if found.startswith(ENV_PREFIX):
            env_value(found, where)
        elif found not in names:
            raise ValueError(f"{where}: unknown placeholder {{{found}}}")
