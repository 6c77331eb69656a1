"""The ``account`` check of conformance: what a node says of its peers in its health answer agrees
with its peers view.

A health endpoint is what an operator, a load balancer or a dashboard reads; a node whose health
says 0 peers alive while it floods to three (a count of the wrong state, of every member, of
itself) tells them a wrong story while every answer is right, and no load run reads it. Where a
node's health answer carries its count of the peers it holds alive (``PEERS_ALIVE``), that
count must be the number its peers view calls alive, read right after it (read again a few
times while they differ: a peer's state may change between the two reads).
"""

from __future__ import annotations

import time

from .adapter import ALIVE, PEERS, PEERS_ALIVE, Adapter, NodeInfo
from .outcomes import FAIL, NOT_MEASURABLE, PASS
from .verify import Check, _call, listed

NAME = "account"
#: Reads of the pair (health, peers view) before a difference is a problem, and their spacing.
TRIES, POLL_S = 4, 0.25


def _difference(net: Adapter, node: NodeInfo) -> tuple[str | None, bool]:
    """``node``'s health count against its view: a problem or None, and whether it said one."""
    said = seen = None
    for _ in range(TRIES):
        health, why = _call(net.health, node)
        count = (health or {}).get(PEERS_ALIVE)
        if why or type(count) is not int:
            return None, False
        view, why = _call(net.peers, node)
        if why:
            return f"{node.name}'s peers view could not be read: {why}", True
        said, seen = count, sum(1 for state in view.values() if state == ALIVE)
        if said == seen:
            return None, True
        time.sleep(POLL_S)
    return f"{node.name} says {said} peers alive in its health answer, its view {seen}", True


def check_account(net: Adapter, nodes: list[NodeInfo]) -> Check:
    if not net.has(PEERS):
        return Check(NAME, NOT_MEASURABLE, "the network shows no node's view of its peers")
    problems, told = [], 0
    for node in nodes:
        problem, said = _difference(net, node)
        told += said
        problems += [problem] if problem else []
    if not told:
        why = f"no health answer says how many peers are alive ({PEERS_ALIVE})"
        return Check(NAME, NOT_MEASURABLE, why)
    if problems:
        return Check(NAME, FAIL, listed(problems))
    return Check(NAME, PASS, f"{told} nodes' health answers count the peers their views call alive")
