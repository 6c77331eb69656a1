"""The ``rogue`` check: a node that fetches from a peer keeps nothing that peer got wrong.

In a run every peer is one of the network's own and serves the right bytes, so a node that
keeps a file whose sha256 differs from the one it was asked for, or takes a stream that ended
early for a whole file, passes every other check: the corruption it lets in appears only when a
peer is buggy or hostile. Here a member that serves wrong files joins a node (the adapter makes
it: ``Adapter.rogue_pulls``) and the node is asked to fetch each from it: it must answer as the
network's protocol prescribes for a peer that failed the fetch, hold none of the files
afterwards, and go on serving.

The member stays in the node's membership (unreachable, soon dead): the check runs last, in the
conformance command and at a Locust run's end, after the final verification and integrity.
"""

from __future__ import annotations

from .adapter import FILES, NODE_DOWNLOAD, ROGUE, Adapter, NodeInfo, RoguePull
from .verify import FAIL, NOT_MEASURABLE, PASS, Check, _call, listed

NAME = "rogue"
#: Nodes asked to fetch from the rogue: each node runs the same code.
ROGUE_NODES = 2


def _answer_problem(node: NodeInfo, pull: RoguePull) -> str | None:
    if pull.status == pull.expect:
        return None
    if 200 <= pull.status < 300:
        return f"{node.name} accepted a peer that {pull.what} (HTTP {pull.status})"
    answered = f"HTTP {pull.status}, not {pull.expect}"
    return f"{node.name} answered a peer that {pull.what} with {answered}"


def _node_problems(net: Adapter, node: NodeInfo) -> tuple[list[str], int, int]:
    """(problems, fetches judged, fetches that never reached the member) for one node."""
    pulls, why = _call(net.rogue_pulls, node)
    if why:
        return [f"{node.name}: {why}"], 0, 0
    judged = [p for p in pulls if p.reached is not False]
    problems = [p for p in (_answer_problem(node, pull) for pull in judged) if p]
    if judged and net.has(FILES):
        held, why = _call(net.files, node)
        if why:
            problems.append(f"{node.name}'s file list after the fetches: {why}")
        else:
            kept = [p for p in judged if p.file in held]
            problems += [f"{node.name} holds {p.file} from a peer that {p.what}" for p in kept]
    _, down = _call(net.health, node)
    if down:
        problems.append(f"{node.name} stopped serving after the rogue's files: {down}")
    return problems, len(judged), len(pulls) - len(judged)


def check_rogue(net: Adapter, nodes: list[NodeInfo]) -> Check:
    if not (net.has(ROGUE) and net.has(NODE_DOWNLOAD)):
        return Check(NAME, NOT_MEASURABLE, "the adapter cannot make a member serve wrong files")
    problems, judged, unreached = [], 0, 0
    for node in nodes[:ROGUE_NODES]:
        found, n, missed = _node_problems(net, node)
        problems, judged, unreached = problems + found, judged + n, unreached + missed
    if problems:
        detail = f"{len(problems)} problems in {judged} fetches: {listed(problems)}"
        return Check(NAME, FAIL, detail)
    if not judged:
        return Check(
            NAME, NOT_MEASURABLE, f"no node reached the rogue member ({unreached} fetches asked)"
        )
    unverified = f"; {unreached} fetches never reached the member" if unreached else ""
    asked = ", ".join(n.name for n in nodes[:ROGUE_NODES])
    kept = ", none kept" if net.has(FILES) else "; unverified: that none was kept (no file list)"
    return Check(NAME, PASS, f"{judged} wrong files refused by {asked}{kept}{unverified}")
