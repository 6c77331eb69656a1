"""The ``sizes`` check of conformance: files at the edges of size travel intact.

A transfer loop is most often wrong where a file has no chunk, one short chunk, or ends exactly
on a chunk's boundary: an empty file that never says it ended, a one-byte file taken for a
stream cut short, a last chunk sent twice or never. The seeded corpus holds files of a few KiB
and a few MiB, so none of these is ever asked for. Each size in ``EDGE_SIZES`` gets a new file:
given to one node, pulled from it by another (the network's node-to-node download, where it has
one), then downloaded from that node by the harness; each step must keep the file's sha256.
"""

from __future__ import annotations

from .adapter import DOWNLOAD, INDEX, NODE_DOWNLOAD, Adapter, NodeInfo
from .corpuscheck import download_problem
from .outcomes import FAIL, NOT_MEASURABLE, PASS
from .verify import Check, _call, new_file

MIB = 1024 * 1024
#: Empty, one byte, and either side of 1 MiB: a whole number of chunks at every power-of-two
#: chunk size up to 1 MiB (64 KiB, gRPC's examples; 1 MiB, ours), then one byte into the next.
EDGE_SIZES = (0, 1, MIB, MIB + 1)


def _problem(net: Adapter, source: NodeInfo, taker: NodeInfo | None, size: int) -> str | None:
    """What went wrong with a file of ``size`` bytes, given to ``source`` and pulled by
    ``taker`` (None: the network has no node-to-node download), or None."""
    file, data = new_file(size)
    acked, why = _call(net.index, source, file["name"], data)
    if why:
        return f"adding it to {source.name} failed: {why}"
    if acked not in (None, file["sha256"]):
        return f"{source.name} acknowledged it with another sha256"
    holder = source
    if taker is not None:
        acked, why = _call(net.node_download, taker, file["name"], file["sha256"], source)
        if why:
            return f"{taker.name}'s download from {source.name} failed: {why}"
        if acked and acked != file["sha256"]:
            return f"{taker.name} acknowledged its download with another sha256"
        holder = taker
    return download_problem(net, holder, file) if net.has(DOWNLOAD) else None


def check_sizes(net: Adapter, nodes: list[NodeInfo]) -> Check:
    name = "sizes"
    if not net.has(INDEX):
        return Check(name, NOT_MEASURABLE, "the network cannot be given new files")
    if not net.has(DOWNLOAD) and not (net.has(NODE_DOWNLOAD) and len(nodes) > 1):
        return Check(name, NOT_MEASURABLE, "the network cannot be asked for a file's bytes")
    source = nodes[0]
    taker = nodes[1] if net.has(NODE_DOWNLOAD) and len(nodes) > 1 else None
    problems = [
        f"{size} bytes: {problem}"
        for size in EDGE_SIZES
        if (problem := _problem(net, source, taker, size))
    ]
    if problems:
        return Check(name, FAIL, "; ".join(problems))
    sizes = ", ".join(str(s) for s in EDGE_SIZES)
    way = f"given to {source.name}, " + (f"pulled by {taker.name}, " if taker else "")
    unverified = "" if net.has(DOWNLOAD) else "; unverified: the bytes (no download call)"
    return Check(name, PASS, f"files of {sizes} bytes {way}downloaded intact{unverified}")
