"""How many nodes this machine can hold: memory, file descriptors and ports, not a constant.

A network of 100–200 nodes on one machine is what a real unstructured network's behaviour needs
(a sparse topology, TTLs that matter), so the limit is what the machine has: each node of ours
keeps about ``NODE_MEMORY_MB`` resident (a definition may declare its own ``memory_mb``), every
node and the harness's connections to it hold about ``FDS_PER_NODE`` descriptors of the
launcher's limit (which nodes inherit), and every named port is one of the machine's ephemeral
ports. ``check`` says which resource limits a request and by how much; ``raise_fd_limit`` lifts
the soft descriptor limit to the hard one when that is enough.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path

import psutil

#: Resident memory of one idle node of peerload's own (README's benchmarks: 51–55 MB RSS, of
#: which ~10 MB shared libraries).
NODE_MEMORY_MB = 45
#: The memory left to the load generator and the system: nodes get this share of what is free.
MEMORY_SHARE = 0.8
#: Descriptors per node: its listening sockets, peer links, the harness's clients, logs.
FDS_PER_NODE = 64
#: Descriptors the launcher itself needs besides (Python, gRPC, the control API).
FDS_BASE = 256
PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_PORT_RANGE = (32768, 60999)
MB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    """One resource's bound on the node count."""

    resource: str
    most: int
    detail: str


def limits(ports_per_node: int, memory_mb: int = NODE_MEMORY_MB) -> list[Limit]:
    """What each resource allows on this machine, now."""
    free_mb = psutil.virtual_memory().available / MB
    memory = int(free_mb * MEMORY_SHARE // max(1, memory_mb))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fd_limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    fds = max(0, (fd_limit - FDS_BASE) // FDS_PER_NODE)
    low, high = port_range()
    ports = (high - low + 1) // max(1, ports_per_node)
    return [
        Limit("memory", memory, f"{free_mb:,.0f} MB available, ~{memory_mb} MB per node"),
        Limit(
            "file descriptors",
            fds,
            f"hard limit {fd_limit} (ulimit -Hn), ~{FDS_PER_NODE} per node",
        ),
        Limit("ports", ports, f"{high - low + 1} ephemeral ports, {ports_per_node} per node"),
    ]


def port_range() -> tuple[int, int]:
    try:
        low, high = (int(x) for x in PORT_RANGE.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_PORT_RANGE
    return low, high


def most_nodes(ports_per_node: int, memory_mb: int = NODE_MEMORY_MB) -> Limit:
    """The tightest limit."""
    return min(limits(ports_per_node, memory_mb), key=lambda limit: limit.most)


def check(nodes: int, ports_per_node: int, memory_mb: int = NODE_MEMORY_MB) -> None:
    """ValueError (one line) naming the resource that does not fit ``nodes`` and by how much."""
    for limit in limits(ports_per_node, memory_mb):
        if nodes > limit.most:
            raise ValueError(
                f"{nodes} nodes do not fit this machine: {limit.resource} allows {limit.most} "
                f"({nodes - limit.most} too many; {limit.detail})"
            )


def raise_fd_limit(nodes: int) -> int:
    """Lift this process's soft descriptor limit to the hard one if ``nodes`` need more than
    the soft limit gives (nodes inherit it). The soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FDS_BASE + nodes * FDS_PER_NODE
    if soft == resource.RLIM_INFINITY or soft >= needed or soft == hard:
        return soft
    target = hard if hard != resource.RLIM_INFINITY else needed
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target
