"""A network namespace per node (opt-in ``--netns``): its own address, like a container.

Each node runs in a namespace ``pl-<pid>-<node>`` holding one end of a veth pair (``eth0``, with
the node's address 10.213.X.(10+i)/32); the other end (``pl-<pid>-<node>``) stays on the host
with the gateway address 10.213.X.1 and a /32 route to the node. Traffic between nodes is
*routed* through the host (forwarding is switched on for our veths only, not for the machine),
so it passes the host's nftables ``forward`` hook and the host's own traffic to the nodes its
``output`` hook: a partition (faults/backends/netns.py) cuts everything a node sends and
receives, whatever address its client code connects from. A bridge would not do: bridged frames
skip the inet hooks unless br_netfilter is loaded, which changes the whole machine.

Everything is named with the run's prefix and removed by ``remove`` (the launcher calls it at
close, on error and at exit); a run that was SIGKILLed leaves namespaces and veths whose pid is
gone, and the next ``Namespaces.create`` on this machine removes them. Needs root and ``ip``.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sys
from pathlib import Path

from faults.backends.delayline import IpError
from faults.backends.delayline import ip as run_ip
from faults.backends.netns import pid_alive

PREFIX = "pl-"
SUBNET_PREFIX = "10.213."  # 10.213.X.0/24, X the first one no route on this machine uses
GATEWAY_HOST = 1
FIRST_HOST = 11
FIRST_PORT = 8001  # each namespace is empty: every node can use the same ports
LOCK_FILE = Path("/run/peerload-netns.lock")
IFNAME_MAX = 15  # Linux interface names
STALE = re.compile(rf"^{PREFIX}(\d+)-")


class NetnsError(IpError):
    """A namespace could not be set up; the message carries ip's complaint."""


def available() -> tuple[bool, str]:
    """Whether namespaces can be made here, and why (not) in one line."""
    if not sys.platform.startswith("linux"):
        return False, f"network namespaces need Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    if shutil.which("ip") is None:
        return False, "no ip binary on PATH (install the Debian package iproute2)"
    return True, "root and ip: a namespace per node"


def ip(*args: str, check: bool = True) -> str:
    """One ``ip`` command; ``NetnsError`` with its stderr when ``check`` and it fails."""
    return run_ip(*args, check=check, error=NetnsError)


def remove_stale() -> list[str]:
    """Delete ``pl-<pid>-…`` namespaces and veths whose pid is gone: a killed run's leftovers."""
    removed = []
    for name in _names(ip("netns", "list", check=False)):
        if _stale(name):
            ip("netns", "delete", name, check=False)
            removed.append(name)
    for name in _names(ip("-o", "link", "show", check=False), field=1):
        if _stale(name):
            ip("link", "delete", name, check=False)
            removed.append(name)
    return removed


def _names(listing: str, field: int = 0) -> list[str]:
    names = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) > field:
            names.append(parts[field].rstrip(":").split("@", 1)[0])
    return [n for n in names if n.startswith(PREFIX)]


def _stale(name: str) -> bool:
    match = STALE.match(name)
    return bool(match) and not pid_alive(int(match.group(1)))


class Namespaces:
    """The namespaces of one launcher's nodes: ``create``, then ``remove`` (idempotent)."""

    def __init__(self, nodes: list[str], *, pid: int | None = None) -> None:
        ok, why = available()
        if not ok:
            raise NetnsError(why)
        self.run = f"{PREFIX}{pid or os.getpid()}"
        if len(self.netns(max(nodes, key=len))) > IFNAME_MAX:
            raise NetnsError(f"interface names of {self.run} would exceed {IFNAME_MAX} chars")
        self.nodes = list(nodes)
        self.subnet = ""
        self.created: list[str] = []
        self.removed_stale: list[str] = []

    def netns(self, node: str) -> str:
        """The namespace's name, also the host end of its veth."""
        return f"{self.run}-{node}"

    def address(self, node: str) -> str:
        return f"{self.subnet}{FIRST_HOST + self.nodes.index(node)}"

    @property
    def gateway(self) -> str:
        return f"{self.subnet}{GATEWAY_HOST}"

    @staticmethod
    def port(i: int) -> int:
        """The ``i``-th declared port of every node (namespaces do not share ports)."""
        return FIRST_PORT + i

    def create(self) -> None:
        """Every namespace, veth, address and route; on failure, what was made is removed."""
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        with open(LOCK_FILE, "a") as lock:  # two runs must not pick the same subnet
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self.removed_stale = remove_stale()
                self.subnet = self._free_subnet()
                for node in self.nodes:
                    self._create_one(node)
            except BaseException:
                self.remove()
                raise

    def _free_subnet(self) -> str:
        used = ip("-4", "route", "show", "table", "all", check=False)
        used += ip("-4", "addr", "show", check=False)
        for x in range(256):
            if f"{SUBNET_PREFIX}{x}." not in used:
                return f"{SUBNET_PREFIX}{x}."
        raise NetnsError(f"no free {SUBNET_PREFIX}X.0/24 subnet left")

    def _create_one(self, node: str) -> None:
        ns = host_end = self.netns(node)  # the host end of the veth is named like the namespace
        addr, gw = self.address(node), self.gateway
        ip("netns", "add", ns)
        self.created.append(ns)
        ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "addr", "add", f"{addr}/32", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("addr", "add", f"{gw}/32", "dev", host_end)
        ip("link", "set", host_end, "up")
        ip("route", "add", f"{addr}/32", "dev", host_end, "src", gw)
        Path(f"/proc/sys/net/ipv4/conf/{host_end}/forwarding").write_text("1\n")
        ip("-n", ns, "route", "add", gw, "dev", "eth0", "scope", "link")
        ip("-n", ns, "route", "add", f"{self.subnet}0/24", "via", gw, "src", addr)

    def remove(self) -> None:
        """Delete our namespaces and veths (deleting either end removes the pair)."""
        for ns in self.created:
            ip("netns", "delete", ns, check=False)
            ip("link", "delete", ns, check=False)  # gone with the namespace, unless a process
        self.created.clear()  # still holds it: then the host end would linger
