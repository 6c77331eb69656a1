"""The ``full_disk`` check of conformance: a node whose disk is full refuses writes cleanly and
loses nothing it acknowledged.

Where the nodes' data dirs are small filesystems of their own (the launcher's ``disk_mb``), one
node's disk is filled for real. Then a new file is given to it, and a file it acknowledged just
before is replaced by an empty one: an empty file needs no data blocks, so the node gets as far
as recording it, the step a full disk breaks last, where a store must put the old file back.
Each write may be acknowledged (then it must hold) or refused (then nothing may change), never
neither: after the disk is freed, the replaced file must be either its old bytes (refused) or
empty (acknowledged), a refused new file must not be served, and a new write must be taken
again. Where the adapter tells a full disk's refusal (``Adapter.tells_full``), a refusal must be
that one: an internal error on a full disk is a node that broke, even if it lost nothing.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from .adapter import DOWNLOAD, INDEX, Adapter, Full, Hit, NodeInfo, Refused, Unavailable
from .corpuscheck import DOWNLOAD_TIMEOUT_S, download_problem
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


def _write(net: Adapter, node: NodeInfo, name: str, data: bytes) -> tuple[bool, str]:
    """``(acknowledged, problem)`` of giving ``node`` a file on its full disk."""
    try:
        net.index(node, name, data)
    except Full:
        return False, ""
    except Refused as exc:
        unclean = f"refused with {exc}, not as a full disk" if net.tells_full else ""
        return False, unclean
    except Unavailable:
        return False, f"{node.name} stopped answering"
    return True, ""


def _served(net: Adapter, node: NodeInfo, file: dict) -> bool:
    """Whether ``node`` serves any bytes of ``file`` (a refused upload must not be)."""
    hit = Hit(node.name, file["name"], file["sha256"], file["size"], 0, node.grpc)
    try:
        return any(True for _ in net.download(node, hit, DOWNLOAD_TIMEOUT_S))
    except (Unavailable, Refused):
        return False


def _while_full(net: Adapter, node: NodeInfo, kept: dict, fresh: tuple[dict, bytes]) -> dict:
    """The writes asked of ``node`` while its disk is full, and what each said."""
    new_acked, new_problem = _write(net, node, fresh[0]["name"], fresh[1])
    over_acked, over_problem = _write(net, node, kept["name"], b"")
    return {
        "new": (new_acked, new_problem and f"the new file: {new_problem}"),
        "overwrite": (over_acked, over_problem and f"the overwrite: {over_problem}"),
    }


def _after(net: Adapter, node: NodeInfo, kept: dict, fresh: dict, said: dict) -> list[str]:
    """What is wrong with ``node``'s files once its disk has room again."""
    problems = [why for _, why in said.values() if why]
    over_acked = said["overwrite"][0]
    expected = {**kept, **EMPTY} if over_acked else kept
    if problem := download_problem(net, node, expected):
        way = "acknowledged" if over_acked else "refused"
        problems.append(f"the overwrite with an empty file, {way}: {problem}")
    if said["new"][0]:
        if problem := download_problem(net, node, fresh):
            problems.append(f"the new file, acknowledged on a full disk: {problem}")
    elif _served(net, node, fresh):
        problems.append(f"the new file, refused on a full disk, is served by {node.name}")
    later, later_data = new_file(KEPT_BYTES)
    try:
        net.index(node, later["name"], later_data)
    except (Unavailable, Refused) as exc:
        problems.append(f"a new file once the disk had room again: {exc}")
    return problems


def check_full_disk(net: Adapter, nodes: list[NodeInfo], disks: SmallDisks) -> Check:
    if not net.has(INDEX) or not net.has(DOWNLOAD):
        return Check(NAME, NOT_MEASURABLE, "the network cannot be given files and asked for them")
    node = nodes[0]
    kept, data = new_file(KEPT_BYTES)
    try:
        net.index(node, kept["name"], data)
    except (Unavailable, Refused) as exc:
        return Check(NAME, FAIL, f"a file given to {node.name} before its disk filled: {exc}")
    fresh = new_file(NEW_BYTES)
    try:
        disks.fill_disk(node.name)
    except Exception as exc:  # the harness's disk, not the network: no evidence either way
        return Check(NAME, NOT_MEASURABLE, f"could not fill {node.name}'s disk: {exc}")
    try:
        said = _while_full(net, node, kept, fresh)
    finally:
        disks.free_disk(node.name)
    problems = _after(net, node, kept, fresh[0], said)
    if problems:
        return Check(NAME, FAIL, f"{node.name}, disk full: " + "; ".join(problems))
    taken = {what: "acknowledged" if acked else "refused" for what, (acked, _) in said.items()}
    return Check(
        NAME,
        PASS,
        f"{node.name}'s disk filled: a new file {taken['new']}, an overwrite with an empty file "
        f"{taken['overwrite']}; nothing lost, writes taken again once freed",
    )
