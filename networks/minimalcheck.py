"""The ``minimal`` check: a node works beside a peer that says only what the protocol requires.

In a run every peer is one of the network's own and fills every field of every message, so a
node that reads an optional field without the protocol's default for it is never seen wrong; a
peer written by another team shows it at once. Here a member that no node of the network is,
made by the adapter (``Adapter.minimal_peer``), joins a node as its neighbour and holds one file;
a search from the node for that file, with TTL 1, must find it there and say the answer as the
network says any other: not partial (the member answered), the member among the nodes reached,
and at least one peer message for each other node that answered (each was sent one).

The member stays in the node's membership, gone: the check runs last, with ``rogue``.
"""

from __future__ import annotations

from .adapter import MINIMAL, Adapter, MinimalPeer, NodeInfo, Refused, SearchAnswer, Unavailable
from .outcomes import FAIL, NOT_MEASURABLE, PASS
from .verify import Check, listed

NAME = "minimal"
#: The TTL of the search: the member is the node's neighbour.
TTL = 1


def _problems(node: NodeInfo, peer: MinimalPeer, answer: SearchAnswer) -> list[str]:
    file, asked = peer.file, f"{node.name}'s search for {peer.file['name']}"
    found = [h for h in answer.hits if (h.node, h.name) == (peer.name, file["name"])]
    problems = [] if found else [f"{asked} did not find it on the member that holds it"]
    for hit in found:
        said = {"size": hit.size, "sha256": hit.sha256}
        wrong = [f"{k} {v!r}" for k, v in said.items() if v is not None and v != file[k]]
        problems += [f"{asked} says it has {', '.join(wrong)}"] if wrong else []
    if answer.partial:
        problems.append(f"{asked} is marked partial though the member answered")
    if answer.reached is not None:
        others = [n for n in answer.reached if n != node.name]
        if peer.name not in others:
            problems.append(f"{asked} does not name the member among the nodes it reached")
        if answer.messages is not None and answer.messages < len(others):
            said = f"{answer.messages} peer messages for {len(others)} other nodes that answered"
            problems.append(f"{asked} counts {said}")
    return problems


def check_minimal(net: Adapter, nodes: list[NodeInfo]) -> Check:
    if not net.has(MINIMAL):
        return Check(NAME, NOT_MEASURABLE, "the adapter cannot make a minimal member")
    node = nodes[0]
    try:
        with net.minimal_peer(node) as peer:
            if not peer.linked:
                why = f"{node.name} did not take the minimal member as a neighbour"
                return Check(NAME, NOT_MEASURABLE, why)
            answer = net.search(node, peer.file["name"], TTL)
    except (Unavailable, Refused) as exc:
        return Check(NAME, FAIL, f"{node.name} with a minimal member as neighbour: {exc}")
    if problems := _problems(node, peer, answer):
        return Check(NAME, FAIL, listed(problems))
    return Check(NAME, PASS, f"{node.name} found the file of a member that says only what it must")
