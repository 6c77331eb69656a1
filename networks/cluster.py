"""A local cluster: N peers on their own loopback addresses, a seeded corpus, a control API and
a descriptor file. ``python -m networks.cluster --nodes 3``; importable as ``Cluster`` (the Locust
suite and the tests embed it).

``Cluster`` is the network launcher (networks/launcher.py) with peerload's own node
(networks/builtin.toml) as its default network; ``--network`` starts any other network.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

from networks.corpus import DEFAULT_FILES_PER_NODE
from networks.definition import DEFAULT_NETWORK, MAX_NODES, NetworkDefinition  # noqa: F401 - API
from networks.launcher import DESCRIPTOR, FIRST_HOST, Launcher, NodeProc  # noqa: F401 - API
from networks.topology import DEFAULT as DEFAULT_TOPOLOGY
from proto.admin import ADMIN_TOKEN_ENV

STOP_POLL_S = 0.2  # how soon the CLI notices Ctrl-C or SIGTERM
CONTROL_HOST = "127.0.0.1"  # where the launcher serves the control API


class Cluster(Launcher):
    """Starts, controls and stops a local peer network (peerload's node unless ``network``
    says otherwise), node count first. Use as a context manager."""

    def __init__(
        self, nodes: int = 3, *, network: NetworkDefinition | str = DEFAULT_NETWORK, **options
    ) -> None:
        super().__init__(network, nodes, **options)


def check_control_port(port: int) -> None:
    """A taken ``--control-port`` is found before any node starts (the control API is served
    only once every node is up): ValueError naming the option and the port."""
    if not port:
        return
    try:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((CONTROL_HOST, port))
    except OSError as exc:
        why = exc.strerror or exc
        raise ValueError(
            f"--control-port {port}: cannot listen on {CONTROL_HOST}:{port} ({why})"
        ) from None


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m networks.cluster", description=__doc__)
    p.add_argument("--nodes", type=int, default=3, help="how many peers (default 3)")
    p.add_argument("--workdir", type=Path, help="data dirs, logs, descriptor (default: temp)")
    p.add_argument("--control-port", type=int, default=0, help="control API port (0: free)")
    p.add_argument(
        "--token", default=None, help=f"control/admin token (default ${ADMIN_TOKEN_ENV} or random)"
    )
    p.add_argument("--seed", type=int, default=7, help="corpus seed")
    p.add_argument(
        "--files-per-node",
        "--files",
        dest="files",
        type=int,
        default=DEFAULT_FILES_PER_NODE,
        metavar="N",
        help=f"corpus files of each node (default {DEFAULT_FILES_PER_NODE})",
    )
    p.add_argument("--keep", action="store_true", help="keep the workdir on exit")
    p.add_argument(
        "--network",
        default=DEFAULT_NETWORK,
        metavar="NAME|FILE|module:Class",
        help="the network to start (default: builtin, peerload's node; docs/networks.md)",
    )
    p.add_argument(
        "--netns", action="store_true", help="each node in a network namespace of its own (root)"
    )
    p.add_argument(
        "--disk-mb",
        type=int,
        default=None,
        metavar="N",
        help="each node's data dir on a tmpfs of N MiB of its own, so the disk_full fault can "
        "fill it (Linux, root only; the data dirs then go with the cluster)",
    )
    p.add_argument(
        "--topology",
        default=DEFAULT_TOPOLOGY,
        metavar="SPEC",
        help="who links to whom: full (default), line, ring, random:d=4, smallworld:k=4,p=0.1, "
        "twotier:ultra=U,leaf=3 (seeded by --seed)",
    )
    p.add_argument(
        "--hosts",
        type=Path,
        metavar="FILE",
        help="run the nodes on the machines of this hosts file over SSH, as many as it lists "
        "(README 'Running across machines'); --nodes is ignored",
    )
    a = p.parse_args(argv)
    nodes_ok = 1 <= a.nodes <= MAX_NODES  # and what the machine holds: the launcher checks
    if not nodes_ok or not 0 <= a.control_port <= 65535:
        p.error(f"--nodes must be 1..{MAX_NODES}, --control-port 0..65535")
    token = a.token or os.environ.get(ADMIN_TOKEN_ENV)
    try:
        check_control_port(a.control_port)
        options = dict(
            workdir=a.workdir,
            token=token,
            control_port=a.control_port,
            seed=a.seed,
            files_per_node=a.files,
            keep=a.keep,
            netns=a.netns,
            topology=a.topology,
            disk_mb=a.disk_mb,
        )
        if a.hosts is not None:
            from networks.hosts import load_hosts
            from networks.remote import RemoteLauncher

            cluster = RemoteLauncher(a.network, load_hosts(a.hosts), **options)
        else:
            cluster = Cluster(a.nodes, network=a.network, **options)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"networks.cluster: {exc}", file=sys.stderr)
        return 2
    # A signal handler must not take a lock: Event.set() inside a handler that interrupted
    # Event.wait() deadlocked (the wait held the Event's lock). A list append takes none.
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    try:
        cluster.start_all()
    except (OSError, RuntimeError, TimeoutError) as exc:
        print(f"networks.cluster: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"descriptor {cluster.descriptor_path}", flush=True)
        print(f"control {cluster.control.url}", flush=True)
        print(f"topology {cluster.topology.summary()}", flush=True)
        for node in cluster.nodes.values():
            print(f"{node.name} {node.http} grpc {node.grpc} pid {node.proc.pid}", flush=True)
        if cluster.join_gaps:  # every node answers, but they did not all find each other
            print(f"not joined: {'; '.join(cluster.join_gaps)}", flush=True)
        print("ready", flush=True)
        while not stopping:
            time.sleep(STOP_POLL_S)
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
