"""The ``full_disk`` check of conformance: a node whose disk is full refuses writes cleanly and
loses nothing it acknowledged.

Where the nodes' data dirs are small filesystems of their own (the launcher's ``disk_mb``), one
node's disk is filled for real. Then a new file is given to it, it is asked to pull a new file
from another node (where the network has node-to-node downloads), and a file it acknowledged just
before is replaced by an empty one: an empty file needs no data blocks, so the node gets as far
as recording it, the step a full disk breaks last, where a store must put the old file back.
Each write may be acknowledged (then it must hold) or refused (then nothing may change), never
neither: after the disk is freed, the replaced file must be either its old bytes (refused) or
empty (acknowledged), a refused new or pulled file must not be served, and a new write must be
taken again. Where the adapter tells a full disk's refusal (``Adapter.tells_full``), a refusal
must be that one: an internal error on a full disk is a node that broke, even if it lost
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .adapter import (
    DOWNLOAD,
    INDEX,
    NODE_DOWNLOAD,
    Adapter,
    Full,
    NodeInfo,
    Refused,
    Unavailable,
)
from .corpuscheck import DOWNLOAD_TIMEOUT_S, download_problem, held_hit
from .outcomes import FAIL, NOT_MEASURABLE, PASS
from .verify import Check, new_file

NAME = "full_disk"
KEPT_BYTES = 4096  # the acknowledged file the full disk's overwrite must not lose
NEW_BYTES = 64 * 1024  # a new file: needs data blocks, so a full disk cannot take it
EMPTY = {"sha256": hashlib.sha256(b"").hexdigest(), "size": 0}


class SmallDisks(Protocol):
    """Fills and frees a node's data dir (networks.launcher.Launcher, the control API)."""

    def fill_disk(self, name: str) -> dict: ...

    def free_disk(self, name: str) -> dict: ...


@dataclass(frozen=True)
class Write:
    """One write asked of the node while its disk is full, and what it must hold after."""

    what: str
    send: Callable[[], object]
    if_acked: dict  # the file it must then serve
    if_refused: dict | None  # the file it must still serve; None: it must serve none


def _sent(net: Adapter, node: NodeInfo, write: Write) -> tuple[bool, str]:
    """``(acknowledged, problem)`` of ``write`` on the full disk."""
    try:
        write.send()
    except Full:
        return False, ""
    except Refused as exc:
        unclean = f"refused with {exc}, not as a full disk" if net.tells_full else ""
        return False, unclean and f"{write.what}: {unclean}"
    except Unavailable:
        return False, f"{write.what}: {node.name} stopped answering"
    return True, ""


def _served(net: Adapter, node: NodeInfo, file: dict) -> bool:
    """Whether ``node`` serves any bytes of ``file`` (a refused write must not be)."""
    try:
        return any(True for _ in net.download(node, held_hit(node, file), DOWNLOAD_TIMEOUT_S))
    except (Unavailable, Refused):
        return False


def _held(net: Adapter, node: NodeInfo, write: Write, acked: bool) -> str | None:
    """What is wrong with what ``node`` holds of ``write`` once its disk has room again."""
    way = "acknowledged" if acked else "refused"
    expected = write.if_acked if acked else write.if_refused
    if expected is None:
        gone = write.if_acked
        return f"{write.what}, refused, is served" if _served(net, node, gone) else None
    problem = download_problem(net, node, expected)
    return problem and f"{write.what}, {way}: {problem}"


def _writes(net: Adapter, nodes: list[NodeInfo], kept: dict) -> list[Write]:
    """A new file; a pull of a new file from another node (where the network has one); an
    empty file over ``kept``. Files a write needs elsewhere are placed first."""
    node = nodes[0]
    fresh, data = new_file(NEW_BYTES)
    writes = [Write("a new file", lambda: net.index(node, fresh["name"], data), fresh, None)]
    if net.has(NODE_DOWNLOAD) and len(nodes) > 1:
        source, (pulled, pulled_data) = nodes[1], new_file(NEW_BYTES)
        net.index(source, pulled["name"], pulled_data)

        def pull() -> object:
            return net.node_download(node, pulled["name"], pulled["sha256"], source)

        writes.append(Write(f"a pull from {source.name}", pull, pulled, None))
    empty = {**kept, **EMPTY}
    overwrite = Write(
        "the overwrite with an empty file", lambda: net.index(node, kept["name"], b""), empty, kept
    )
    return [*writes, overwrite]


def check_full_disk(net: Adapter, nodes: list[NodeInfo], disks: SmallDisks) -> Check:
    if not net.has(INDEX) or not net.has(DOWNLOAD):
        return Check(NAME, NOT_MEASURABLE, "the network cannot be given files and asked for them")
    node = nodes[0]
    kept, data = new_file(KEPT_BYTES)
    try:
        net.index(node, kept["name"], data)
        writes = _writes(net, nodes, kept)
    except (Unavailable, Refused) as exc:
        return Check(NAME, FAIL, f"files placed before {node.name}'s disk filled: {exc}")
    try:
        disks.fill_disk(node.name)
    except Exception as exc:  # the harness's disk, not the network: no evidence either way
        return Check(NAME, NOT_MEASURABLE, f"could not fill {node.name}'s disk: {exc}")
    try:
        said = [(w, *_sent(net, node, w)) for w in writes]
    finally:
        disks.free_disk(node.name)
    problems = [why for _, _, why in said if why]
    problems += [p for w, acked, _ in said if (p := _held(net, node, w, acked))]
    later, later_data = new_file(KEPT_BYTES)
    try:
        net.index(node, later["name"], later_data)
    except (Unavailable, Refused) as exc:
        problems.append(f"a new file once the disk had room again: {exc}")
    if problems:
        return Check(NAME, FAIL, f"{node.name}, disk full: " + "; ".join(problems))
    taken = ", ".join(f"{w.what} {'acknowledged' if acked else 'refused'}" for w, acked, _ in said)
    return Check(
        NAME,
        PASS,
        f"{node.name}'s disk filled: {taken}; nothing lost, writes taken again once freed",
    )
