"""Joining: whom each node of a network joins when it starts, and the join call after start.

A network whose definition joins by ``topology`` (the default, docs/networks.md) is started
along a topology's links (networks/topology.py): each node joins its neighbours that started
before it, so every link is made once, by the later node, and on a restart all its neighbours.
``earlier`` (every earlier node) and ``first`` (n1) are a network's own ways of joining: its
links are its own business then, and only a full mesh may be recorded for it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from .definition import NetworkDefinition
from .topology import Topology, build

POLL_S = 0.05
CALL_TIMEOUT_S = 5.0


def topology_for(
    network: NetworkDefinition, spec: Topology | str, names: list[str], seed: int
) -> Topology:
    """The topology the nodes are joined in; ValueError (one line) when this network cannot be
    joined along it (it joins by ``earlier`` or ``first``: only ``full`` then)."""
    topology = spec if isinstance(spec, Topology) else build(spec, names, seed)
    if list(topology.nodes) != names:
        raise ValueError(f"topology over {', '.join(topology.nodes[:3])}…: not this run's nodes")
    if not network.joins_by_topology and not topology.is_full:
        raise ValueError(
            f"network {network.name} joins by {network.node.join_peers!r} (node.join.peers), "
            f"not along a topology: it runs only as 'full', not {topology.spec!r}"
        )
    return topology


def peers(network: NetworkDefinition, topology: Topology, node: str, restart: bool) -> list[str]:
    """Whom ``node`` joins, in start order: its earlier neighbours (all of them on a restart);
    for ``earlier`` the earlier nodes (all others on a restart); for ``first`` n1 (n1 itself
    joins n2 on a restart)."""
    if network.joins_by_topology:
        return topology.neighbours(node) if restart else topology.earlier_neighbours(node)
    names = list(topology.nodes)
    others = [n for n in names if n != node]
    if network.node.join_peers == "first":
        return others[:1] if names.index(node) > 0 or restart else []
    return others if restart else names[: names.index(node)]


def call_peers(
    network: NetworkDefinition,
    values: Mapping[str, str],
    peer_values: list[Mapping[str, str]],
    deadline: float,
) -> None:
    """The definition's after-start join call, once per peer, retried until it answers (a 5xx
    or no answer) or ``deadline`` (monotonic); RuntimeError naming the call then, or on a 4xx."""
    for peer in peer_values:
        request = network.join_request(values, peer)
        if request is None:
            return
        call_until(*request, deadline, f"{values['name']} join")


def call_self(network: NetworkDefinition, values: Mapping[str, str], deadline: float) -> None:
    """The definition's ``node.after_start`` calls on the node itself, in order, each retried
    like a join: part of the node's start, so it is ready only once they answered."""
    for method, url, body in network.self_requests(values):
        call_until(method, url, body, deadline, f"{values['name']} after_start")


def call_until(method: str, url: str, body: str, deadline: float, what: str) -> bytes:
    """``call`` retried while it gets no answer or a 5xx, until ``deadline`` (monotonic);
    RuntimeError naming ``what`` and the call then, or at once on a 4xx."""
    while True:
        try:
            return call(method, url, body)
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or time.monotonic() > deadline:
                raise RuntimeError(f"{what} {method} {url}: {exc}") from None
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} {method} {url}: {exc}") from None
        time.sleep(POLL_S)


def call(method: str, url: str, body: str) -> bytes:
    """One HTTP call with a JSON body (a join)."""
    data = body.encode() if body else None
    headers = {"Content-Type": "application/json"} if body else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as answer:
        return answer.read()
