"""The run's verification before and after the load, and the integrity check after it: the
conformance checks of ``networks.verify``, through the network's adapter.

What "the network is working" means is defined there once, for the Locust run and for
``python -m networks.verify`` alike: every node up (and joined, where the network shows its
peers), a search from each node finds another node's file, TTL 0 stays local, downloads verify,
the seeded corpus is intact (and, before the load, a new file becomes findable).
"""

from __future__ import annotations

import time

from networks import verify

SETTLE_TIMEOUT_S = 15.0
SETTLE_POLL_S = 0.5


def steady_state(state, *, index: bool = True) -> list[str]:
    """Problems found (empty when the network passed every conformance check it can be asked)."""
    net = state.adapter()
    try:
        return verify.problems(verify.conformance(net, state.nodes, index=index))
    finally:
        net.close()


def settle_s(state) -> float:
    """How long the final checks are retried: after the final heal a restarted node needs a
    moment to rejoin. Zero when the last fault healed on schedule and its recovery was already
    watched past the gate and missed: the network has had its moment, and is checked once."""
    last = (state.fault_results or [None])[-1]
    if last and last["healed_by"] == "schedule" and not last["recovered"]:
        return 0.0 if last.get("recovery_watched_s") else SETTLE_TIMEOUT_S
    return SETTLE_TIMEOUT_S


def settled_state(state) -> list[str]:
    """The checks (no new file), retried until they pass or ``settle_s`` runs out."""
    deadline = time.monotonic() + settle_s(state)
    while (problems := steady_state(state, index=False)) and time.monotonic() < deadline:
        time.sleep(SETTLE_POLL_S)
    return problems


def integrity(state) -> dict:
    """Acknowledged uploads still there with their digest, and (a sample) searchable."""
    net = state.adapter()
    try:
        return verify.integrity(net, state.nodes, state.acked)
    finally:
        net.close()
