"""The ``malformed`` conformance check: a node refuses what no well-behaved peer or client sends.

Our own peers and users only ever send well-formed requests, so a run never shows whether a
node checks its input: a range check off by one, a condition that lets an address without a
host through, a limit not enforced. A network in the field meets a buggy or hostile peer sooner
or later, and one bad member it takes in is flooded and probed by every node. The adapter knows
the network's protocol and makes the requests (``Adapter.probes``); this module only judges
them: each must be refused with a 4xx, accepted (the edge of a limit, still valid), or ignored
(no server error, and the impostor it names never among the node's peers); afterwards the node
still answers its health call.
"""

from __future__ import annotations

from .adapter import (
    ACCEPT,
    IGNORE,
    MALFORMED,
    MEMBERS,
    PEERS,
    REFUSE,
    Adapter,
    NodeInfo,
    Probe,
    Unavailable,
)
from .verify import FAIL, NOT_MEASURABLE, PASS, Check, _call, listed

#: Nodes probed: each node runs the same code, and a node that took an impostor in gossips it.
PROBED_NODES = 2


def _answered(status: int, expect: str) -> bool:
    if expect == REFUSE:
        return 400 <= status < 500
    if expect == ACCEPT:
        return 200 <= status < 300
    return status < 500  # IGNORE: any answer but a server error (the news is dropped)


def _problem(node: NodeInfo, probe: Probe) -> str | None:
    try:
        status = probe.send()
    except Unavailable as exc:
        return f"{node.name} did not answer {probe.name}: {exc}"
    if _answered(status, probe.expect):
        return None
    if status >= 500:
        return f"{node.name} failed on {probe.name} (HTTP {status})"
    wanted = {REFUSE: "refused", ACCEPT: "accepted", IGNORE: "ignored"}[probe.expect]
    return f"{node.name} answered {probe.name} with HTTP {status}, not {wanted}"


def _impostors(net: Adapter, node: NodeInfo, probes: list[Probe]) -> list[str]:
    """The impostors ``node`` lists among its peers (not measurable without a peers view)."""
    view, why = _call(net.peers, node)
    if why:
        return [f"{node.name}'s peers view after the probes: {why}"]
    first: dict[str, str] = {}
    for p in probes:
        if p.impostor:
            first.setdefault(p.impostor, p.name)
    taken = sorted(n for n in view if n in first)
    return [
        f"{node.name} lists impostor {n} among its peers (first sent: {first[n]})" for n in taken
    ]


def check_malformed(net: Adapter, nodes: list[NodeInfo]) -> Check:
    if not net.has(MALFORMED):
        return Check("malformed", NOT_MEASURABLE, "the adapter cannot send malformed requests")
    problems, sent, watched = [], 0, net.has(PEERS) or net.has(MEMBERS)
    for node in nodes[:PROBED_NODES]:
        probes = net.probes(node)
        sent += len(probes)
        problems += [p for p in (_problem(node, probe) for probe in probes) if p]
        if watched:
            problems += _impostors(net, node, probes)
        _, down = _call(net.health, node)
        if down:
            problems.append(f"{node.name} stopped serving after the probes: {down}")
    if problems:
        return Check(
            "malformed", FAIL, f"{len(problems)} problems in {sent} probes: {listed(problems)}"
        )
    unwatched = "" if watched else "; unverified: whether ignored news was ignored (no peers view)"
    probed = ", ".join(n.name for n in nodes[:PROBED_NODES])
    return Check("malformed", PASS, f"{sent} malformed or edge requests to {probed}{unwatched}")
