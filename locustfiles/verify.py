"""The run's verification before and after the load, and the integrity check after it: the
conformance checks of ``networks.verify``, through the network's adapter.

What "the network is working" means is defined there once, for the Locust run and for
``python -m networks.verify`` alike: every node up (and joined, where the network shows its
peers), a search from each node finds another node's file, TTL 0 stays local, downloads verify,
the seeded corpus is intact (and, before the load, a new file becomes findable).
"""

from __future__ import annotations

import time

from faults.backends.control import ControlClient, small_disks_missing
from networks import verify
from networks.adapter import PEERS, Refused, Unavailable
from networks.minimalcheck import check_minimal
from networks.roguecheck import check_rogue
from networks.topology import Topology
from reports.thresholds import Thresholds

SETTLE_TIMEOUT_S = 15.0
SETTLE_POLL_S = 0.5


def topology(state) -> Topology | None:
    """The links the cluster's descriptor records (None: not recorded, e.g. nodes by URL)."""
    return verify.descriptor_topology(state.descriptor)


def held_links(net, nodes, topo: Topology | None) -> Topology | None:
    """``topo`` with the links the nodes hold now (a node re-links around a dead neighbour):
    TTL is judged over the network as it is, where the network says which peers it floods to."""
    if topo is None or not net.has(PEERS):
        return topo
    for node in nodes:
        try:
            net.peers(node)  # fills net.links
        except (Unavailable, Refused):
            continue
    return topo.plus((a, b) for a, peers in net.links.items() for b in peers)


def steady_state(state, *, index: bool = True) -> list[str]:
    """Problems found (empty when the network passed every conformance check it can be asked)."""
    net = state.adapter()
    try:
        topo = held_links(net, state.nodes, topology(state))
        state.links_seen.update(
            tuple(sorted((a, b))) for a, peers in net.links.items() for b in peers if a != b
        )
        disks = None if small_disks_missing(state.descriptor) else ControlClient(state.descriptor)
        checks = verify.conformance(
            net, state.verified_nodes(), index=index, topology=topo, disks=disks
        )
        return verify.problems(checks)
    finally:
        net.close()


def settle_s(fault_results: list[dict] | None, thresholds: Thresholds) -> float:
    """How long the final checks are retried: a node healed or restarted last needs a moment to
    rejoin. Zero when every fault healed on schedule and the last one to heal was watched long
    enough to fail its recovery, and did: the network has had its moment, and is checked once."""
    results = fault_results or []
    if not results or any(r["healed_by"] != "schedule" for r in results):
        return SETTLE_TIMEOUT_S
    last = max(results, key=lambda r: r["window"]["end"])
    watched = last.get("recovery_watched_s")
    missed = not last["recovered"] and watched is not None
    return 0.0 if missed and watched >= thresholds.recovery_evidence_s() else SETTLE_TIMEOUT_S


def settled_state(state, thresholds: Thresholds) -> list[str]:
    """The checks (no new file), retried until they pass, ``settle_s`` runs out or the run is
    interrupted."""
    deadline = time.monotonic() + settle_s(state.fault_results, thresholds)
    while (problems := steady_state(state, index=False)) and time.monotonic() < deadline:
        if state.interrupted:
            break
        time.sleep(SETTLE_POLL_S)
    return problems


def foreign_members(state) -> tuple[dict, dict]:
    """The ``minimal`` and ``rogue`` checks, once, after everything else (the members they
    join stay listed): each outcome and detail, as the run status records them."""
    net = state.adapter()
    try:
        nodes = state.verified_nodes()
        checks = (check_minimal(net, nodes), check_rogue(net, nodes))
    finally:
        net.close()
    minimal, rogue = ({"outcome": c.outcome, "detail": c.detail} for c in checks)
    return minimal, rogue


def integrity(state) -> dict:
    """Acknowledged uploads still there with their digest, and (a sample) searchable."""
    net = state.adapter()
    try:
        return verify.integrity(net, state.nodes, list(state.acked), topology(state))  # a snapshot
    finally:
        net.close()
