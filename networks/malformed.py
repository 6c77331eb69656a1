"""The ``malformed`` conformance check: a node refuses what no well-behaved peer or client sends.

Our own peers and users only ever send well-formed requests, so a run never shows whether a
node checks its input: a range check off by one, a condition that lets an address without a
host through, a limit not enforced. A network in the field meets a buggy or hostile peer sooner
or later, and one bad member it takes in is flooded and probed by every node. The adapter knows
the network's protocol and makes the requests (``Adapter.probes``); this module only judges
them: each must be refused with a 4xx, accepted (the edge of a limit, still valid), or ignored
(no server error, the impostor it names never among the node's peers, and a member it speaks
against still called alive); afterwards the node still answers its health call.
"""

from __future__ import annotations

import time

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
#: How long a member a probe spoke against may take to be called alive again (it may be
#: suspect for a moment for reasons of its own; taken-in news against it lasts for ever).
VICTIM_WAIT_S, VICTIM_POLL_S = 2.0, 0.1


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


def _harm(node: NodeInfo, probe: Probe) -> str | None:
    """What ``probe`` did to ``node`` that it must not have, in a problem's words."""
    try:
        harm = probe.harm() if probe.harm else None
    except Unavailable as exc:
        return f"{node.name}: what {probe.name} did cannot be read: {exc}"
    return f"{harm} after {probe.name}" if harm else None


def _peers_problems(net: Adapter, node: NodeInfo, probes: list[Probe]) -> list[str]:
    """The impostors ``node`` lists among its peers, and the members probes spoke against
    that it no longer calls alive (not measurable without a peers view)."""
    victims = {p.victim: p.name for p in probes if p.victim}
    deadline = time.monotonic() + VICTIM_WAIT_S
    dead: set[str] = set()  # dead even for a moment: the news was taken in (refuted later)
    while True:  # a member briefly suspect for its own reasons is given a moment
        view, why = _call(net.peers, node)
        if why:
            return [f"{node.name}'s peers view after the probes: {why}"]
        dead |= {v for v in victims if view.get(v) == "dead"}
        slandered = sorted(v for v in victims if view.get(v) not in ("alive", "listed"))
        if not slandered or dead or time.monotonic() >= deadline:
            break
        time.sleep(VICTIM_POLL_S)
    slandered = sorted(set(slandered) | dead)
    first: dict[str, str] = {}
    for p in probes:
        if p.impostor:
            first.setdefault(p.impostor, p.name)
    taken = sorted(n for n in view if n in first)
    return [
        f"{node.name} lists impostor {n} among its peers (first sent: {first[n]})" for n in taken
    ] + [
        f"{node.name} called {v} {'dead' if v in dead else view.get(v)} after {victims[v]}"
        for v in slandered
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
            problems += _peers_problems(net, node, probes)
        problems += [h for p in probes if p.harm and (h := _harm(node, p))]
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
