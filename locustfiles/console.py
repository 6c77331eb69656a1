"""Everything peerload prints to the console goes through here.

Our lines go to stdout, except with Locust's ``--json``: then stdout is Locust's JSON
statistics alone (``locust … --json > out.json`` must parse), and our lines go to stderr, where
Locust's own log already goes. Errors always go to stderr.
"""

from __future__ import annotations

import statistics
import sys
from typing import NoReturn, TextIO

from reports.cpu import NODES_SHOWN

PREFIX = "peerload: "
EXIT_USAGE = 2

_json_stdout = False  # set once at init from Locust's --json


def reserve_stdout_for_json(enabled: bool) -> None:
    """With ``--json`` stdout belongs to Locust's JSON; our lines move to stderr."""
    global _json_stdout
    _json_stdout = bool(enabled)


def out() -> TextIO:
    """The stream our normal lines (messages, dashboard) go to, looked up at each call so a
    test's captured stdout/stderr is honoured."""
    return sys.stderr if _json_stdout else sys.stdout


def line(text: str) -> None:
    """One line, unprefixed (the dashboard)."""
    print(text, file=out(), flush=True)


def say(message: str) -> None:
    print(f"{PREFIX}{message}", file=out(), flush=True)


def die(message: str) -> NoReturn:
    """A one-line error and exit code 2, never a traceback."""
    print(f"{PREFIX}error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_USAGE)


def fold_nodes(values: dict[str, float], unit: str = "", *, total: bool = False) -> str:
    """One reading per node for the status line: each node's while there are few, else (100
    nodes would fill the screen every tick) the total or the median and the highest few."""

    def each(readings: list[tuple[str, float]]) -> str:
        return " ".join(f"{k} {v:.0f}{unit}" for k, v in readings)

    if len(values) <= NODES_SHOWN:
        return each(sorted(values.items())) or "-"
    top = sorted(values.items(), key=lambda kv: -kv[1])[:NODES_SHOWN]
    whole = (
        f"total {sum(values.values()):.0f}{unit}"
        if total
        else f"median {statistics.median(values.values()):.0f}{unit}"
    )
    return f"{whole}, top {each(top)}"
