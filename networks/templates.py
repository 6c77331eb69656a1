"""A definition's templates: which ``{placeholders}`` exist and how one is replaced.

Only ``{word}``, ``{env:NAME}`` and ``{env:NAME:-DEFAULT}`` are placeholders; any other brace is
left as it is, so JSON and YAML templates need no escaping. A placeholder that does not exist
where it is used is a mistake found when the definition is loaded, never a literal in a node's
command line.
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
#: ``{env:NAME}``: the launcher's environment variable NAME (it must be set when loaded);
#: ``{env:NAME:-DEFAULT}``: NAME when it is set and not empty, else DEFAULT, a template of its own
#: (text and ``{word}`` placeholders: ``{env:XNET_PYTHON:-{python}}``).
ENV_PREFIX = "env:"
DEFAULT_SEP = ":-"
_WORD = r"[A-Za-z_][A-Za-z0-9_]*"
_ENV = rf"{ENV_PREFIX}{_WORD}(?:{DEFAULT_SEP}(?:[^{{}}]|\{{{_WORD}\}})*)?"  # default: text, {word}s
PLACEHOLDER = re.compile(rf"\{{({_ENV}|{_WORD})\}}")


def peer_values(peer: Mapping[str, str]) -> dict[str, str]:
    """A peer's node values under ``peer_`` names (``{peer_http}``, ``{peer_name}``...)."""
    return {PEER_PREFIX + k: v for k, v in peer.items()}


def render(template: str, values: Mapping[str, str], where: str) -> str:
    """Replace each ``{placeholder}``; any other brace is left as it is (JSON, YAML)."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith(ENV_PREFIX):
            return env_value(name, where, values)
        try:
            return values[name]
        except KeyError:
            raise ValueError(f"{where}: unknown placeholder {match.group(0)}") from None

    return PLACEHOLDER.sub(one, template)


def env_value(name: str, where: str, values: Mapping[str, str]) -> str:
    """The value of ``{env:NAME}``: unset is a mistake (an empty path would run elsewhere); of
    ``{env:NAME:-DEFAULT}``: DEFAULT rendered with ``values`` when NAME is unset or empty."""
    variable, default_given, default = name.removeprefix(ENV_PREFIX).partition(DEFAULT_SEP)
    value = os.environ.get(variable)
    if default_given and not value:
        return render(default, values, where)
    if value is None:
        raise ValueError(f"{where}: {{{name}}}: environment variable not set")
    return value


def check_known(template: str, names: set[str], where: str) -> None:
    """ValueError (one line) when ``template`` names a placeholder not in ``names`` (or an
    unset environment variable)."""
    for found in PLACEHOLDER.findall(template):
        if DEFAULT_SEP in found:  # {env:NAME:-DEFAULT}: the default's own placeholders
            check_known(found.partition(DEFAULT_SEP)[2], names, where)
        elif found.startswith(ENV_PREFIX):
            env_value(found, where, {})
        elif found not in names:
            raise ValueError(f"{where}: unknown placeholder {{{found}}}")
