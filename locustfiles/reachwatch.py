"""While one link is cut (a fault that ``keeps_reach``), what its two ends say of their peers.

The monitor reads every node's view every 2 s: a detector that accuses the other end of a cut
link and is refuted within a second may never be caught by it. The ends are the nodes whose
own probes fail, so they are the first to accuse; their views are read here every
``WATCH_POLL_S`` while the link is cut. Raw observations only (reports/accuracy.py judges
them, with the other faults the model knows): how many views were read, and each peer seen
``dead`` or ``suspect`` as ``[wall time, by, of, state]``.
"""

from __future__ import annotations

import time

import gevent

from networks.adapter import DEAD, PEERS, SUSPECT, Refused, Unavailable

WATCH_POLL_S = 0.25
#: Sightings kept per fault: enough to judge and name, bounded for a detector in a storm.
MAX_SIGHTINGS = 200


def watch_reach(state, entry: dict) -> None:
    """Poll the views of ``entry``'s nodes until the fault heals (``entry["end"]`` set);
    ``entry["views_read"]`` and ``entry["sightings"]`` hold what was seen. A network without
    a peers view cannot be watched: nothing is recorded."""
    net = state.adapter()
    if not net.has(PEERS):
        net.close()
        return
    entry["views_read"], entry["sightings"] = 0, []
    ends = [state.node(name) for name in entry["nodes"]]
    try:
        while entry["end"] is None:
            jobs = [gevent.spawn(peers_view, net, node) for node in ends]
            gevent.joinall(jobs)
            now = time.time()
            for node, job in zip(ends, jobs, strict=True):
                view = job.value if job.successful() else None
                if view is None:
                    continue
                entry["views_read"] += 1
                seen = [[now, node.name, p, s] for p, s in view.items() if s in (DEAD, SUSPECT)]
                room = MAX_SIGHTINGS - len(entry["sightings"])
                entry["sightings"] += seen[: max(room, 0)]
            gevent.sleep(WATCH_POLL_S)
    finally:
        net.close()


def peers_view(net, node) -> dict[str, str] | None:
    """``node``'s view of its peers, or None when it does not answer."""
    try:
        return net.peers(node)
    except (Unavailable, Refused):
        return None
