"""Crashes a node's own log tells of: an exception no handler expected, a panic.

A node can keep answering while one of its own loops died (a gossip loop, a re-indexer, a
timer): nothing a client asks shows it until much later, if ever. Every runtime says so in its
log in its own words, and a serious test reads them (Jepsen scans its nodes' logs for crashes
too). These are the words; each occurrence is one crash, however long its stack, a Python
exception raised while handling another included.

The events are raw facts of the run (``run["crashes"]``, docs/contracts.md); ``reports`` counts
and judges them (``node_crashes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .readiness import read_logs

#: A line holding one of these starts a crash report (Python, Go, Rust, Java, Node.js).
CRASH_MARKERS = (
    "Traceback (most recent call last):",
    "panic: ",
    "panicked at ",
    'Exception in thread "',
    "Uncaught ",
)
#: Python's words between the tracebacks of one crash (an exception raised while handling one).
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
#: Read at most this much of a node's log (its end: a log that large is mostly noise).
MAX_SCAN_BYTES = 256 * 2**20
#: Crashes of one node kept with their words (all are counted).
MAX_EVENTS_PER_NODE = 5
#: Lines of a crash report kept, and characters of each.
EXCERPT_LINES = 12
MAX_LINE_CHARS = 300


def scan_text(node: str, text: str) -> tuple[int, list[dict[str, Any]]]:
    """The crashes ``text`` (one node's log) tells of: how many, and the first few, each
    ``{"node", "line", "before", "error", "excerpt"}`` (``line`` 1-based; ``before``: the log
    line that came with it; ``error``: what went wrong, a Python stack's last line)."""
    lines = text.splitlines()
    count, events, last_said = 0, [], ""
    for i, line in enumerate(lines):
        if not any(marker in line for marker in CRASH_MARKERS):
            if line.strip():
                last_said = line.strip()
            continue
        if last_said.startswith(CHAINED):
            continue  # the same crash, one more stack of it
        count += 1
        if len(events) < MAX_EVENTS_PER_NODE:
            excerpt = [ln[:MAX_LINE_CHARS] for ln in lines[i : i + EXCERPT_LINES]]
            events.append(
                {
                    "node": node,
                    "line": i + 1,
                    "before": _before(lines, i),
                    "error": _error(lines, i),
                    "excerpt": excerpt,
                }
            )
    return count, events


def _before(lines: list[str], at: int) -> str:
    earlier = (ln.strip() for ln in reversed(lines[:at]) if ln.strip())
    return next(earlier, "")[:MAX_LINE_CHARS]


def _error(lines: list[str], at: int) -> str:
    """A Python stack's exception line (the first unindented line after the marker), else the
    marker's own line."""
    if "Traceback" in lines[at]:
        for ln in lines[at + 1 :]:
            if ln.strip() and not ln.startswith((" ", "\t")):
                return ln.strip()[:MAX_LINE_CHARS]
    return lines[at].strip()[:MAX_LINE_CHARS]


def scan(logs: Mapping[str, bytes]) -> dict[str, Any]:
    """Each node's log (name -> its bytes) read for crashes: ``{"nodes": [names read],
    "counts": {name: crashes}, "events": [the first few of each]}``."""
    out: dict[str, Any] = {"nodes": [], "counts": {}, "events": []}
    for name, data in logs.items():
        count, events = scan_text(name, data.decode("utf-8", errors="replace"))
        out["nodes"].append(name)
        out["counts"][name] = count
        out["events"] += events
    return out


def scan_logs(workdir: Path, names: Iterable[str]) -> dict[str, Any]:
    """``scan`` of every node's log in ``workdir`` (``NAME.log``, its last ``MAX_SCAN_BYTES``);
    a node whose log is missing is left out (nothing read, nothing judged)."""
    present = [name for name in names if (workdir / f"{name}.log").is_file()]
    return scan(read_logs(workdir, present, MAX_SCAN_BYTES))
