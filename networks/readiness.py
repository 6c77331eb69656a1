"""When a started network counts as ready, and what it looked like when it did not.

A node is ready when the network's own readiness check answers (its definition's ``ready``
probe: up and answering). Whether the nodes then joined each other is the network's behaviour,
judged like any other (the conformance check ``joined``), not a condition for starting: the
launcher gives the join a bounded time and says who sees whom. A network that never gets there
is judged NOT READY, with what each node saw and the node logs, never refused as a bad option.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from .adapter import SEES

#: The tail of each node log kept for a report (the start of a run logs little).
LOG_KEEP_BYTES = 4 * 2**20
LOGS = "logs"


def sees(name: str, view: Mapping[str, str] | None) -> list[str]:
    """The nodes ``name`` sees (alive, or listed), itself included, sorted."""
    return sorted({name, *(peer for peer, state in (view or {}).items() if state in SEES)})


def describe(name: str, view: Mapping[str, str] | None, why: str = "") -> str:
    """``n3 sees only itself``, ``n1 sees n1, n2``, or ``n2 does not answer (why)``."""
    if why:
        return f"{name} does not answer ({why})"
    seen = sees(name, view)
    return f"{name} sees only itself" if seen == [name] else f"{name} sees {', '.join(seen)}"


def joined(name: str, view: Mapping[str, str] | None, others: Iterable[str]) -> bool:
    """Whether ``name`` sees every one of ``others``."""
    return set(others) - {name} <= set(sees(name, view))


def unlinked(name: str, held: set[str] | None, wanted: Iterable[str]) -> list[str]:
    """The topology neighbours ``name`` should hold a link to and does not (none when the
    network does not say which links it holds)."""
    return [] if held is None else sorted(set(wanted) - {name} - held)


def describe_links(name: str, missing: list[str]) -> str:
    """``n3 holds no link to n2``: a join the topology asked for, not made."""
    return f"{name} holds no link to {', '.join(missing)}"


class NodeExited(RuntimeError):
    """A node's process ended before it answered its ready probe (its log's tail says why)."""


class NotReady(TimeoutError):
    """The network did not become ready: ``views`` says what each node saw (one line each),
    ``logs`` holds the tail of each node's log (the launcher's work folder is gone by then)."""

    def __init__(self, message: str, views: list[str], logs: dict[str, bytes]) -> None:
        super().__init__(message)
        self.views = views
        self.logs = logs


def read_logs(workdir: Path, names: Iterable[str], limit: int = LOG_KEEP_BYTES) -> dict[str, bytes]:
    """The tail (``limit`` bytes) of each node's log in ``workdir``; a missing log is empty."""
    out = {}
    for name in names:
        path = workdir / f"{name}.log"
        try:
            with path.open("rb") as f:
                size = f.seek(0, 2)
                f.seek(max(0, size - limit))
                out[name] = f.read()
        except OSError:
            out[name] = b""
    return out


def write_logs(logs: Mapping[str, bytes], results_dir: Path) -> Path:
    """Each node's log as ``results_dir/logs/NAME.log``; the folder."""
    folder = results_dir / LOGS
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in logs.items():
        tmp = folder / f".{name}.log.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / f"{name}.log")
    return folder
