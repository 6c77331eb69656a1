"""The embedded nodes' logs at a run's end: read for crashes before the run is judged
(networks/crashes.py, judged by ``node_crashes``), kept beside the results after."""

from __future__ import annotations

from networks.crashes import scan_logs
from networks.readiness import read_logs, write_logs

from .console import say


def read_crashes(environment) -> dict | None:
    """The crashes the embedded nodes' logs tell of (networks/crashes.py); None when the
    nodes are not ours to read (given by URL or by a cluster started elsewhere)."""
    cluster = getattr(environment, "peerload_cluster", None)
    if cluster is None:
        return None
    crashes = scan_logs(cluster.collect_logs(), cluster.nodes)
    if found := sum(crashes["counts"].values()):
        first = crashes["events"][0]
        say(f"node logs: {found} crash(es), first on {first['node']}: {first['error']}")
    return crashes


def keep_logs(environment, **_) -> None:
    """``test_stop``, after the run's files are written: the embedded nodes' logs beside them."""
    folder = getattr(getattr(environment, "peerload", None), "results_dir", None)
    cluster = getattr(environment, "peerload_cluster", None)
    if folder is not None and cluster is not None:
        write_logs(read_logs(cluster.workdir, cluster.nodes), folder)
