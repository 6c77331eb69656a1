"""The real-network backend (Linux): nftables rules drop packets between nodes' addresses.

Each node listens on, and connects out from, its own address (the descriptor's ``host``: a
loopback address, or its namespace's with ``--netns``, networks/netns.py), so ``ip saddr A ip
daddr B drop`` cuts exactly one link, in flight connections included; rules hook ``output`` (the
host's own packets) and ``forward`` (packets routed between node namespaces). The same rules
with ``numgen random mod 100 < P`` drop a share of the packets (loss), and with ``limit rate
over`` police a rate (bandwidth: packets over it are dropped, not queued). Only links between
nodes are touched, never a client's traffic. Everything lives in a table of our own, ``inet
peerload_<pid>_<n>`` (one per backend instance: a Locust run has a scheduled and a by-hand
runner), one pair of chains per active fault: healing deletes them, closing deletes the table.
Tables left by a process that died without closing (SIGKILL) are deleted by the next backend
made on this machine. Needs root, or an unprivileged user+net namespace (``unshare -rn``) that
the cluster also runs in, and ``nft``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..targets import symmetric_pairs
from .delayline import DelayLineError, DelayLines

NFT_TIMEOUT_S = 10.0
TABLE_PREFIX = "peerload_"
_instances = itertools.count(1)
#: Chain name suffix -> hook: the host's own packets, and the packets it routes between nodes in
#: namespaces of their own (networks/netns.py), which never pass the output hook.
HOOKS = {"": "output", "f": "forward"}
INSTALL_HINT = "install the Debian package nftables"
#: A policer's burst: nftables' bucket holds one second of the rate plus this, which lets one
#: segment of 64 KiB (loopback and veth hand nftables GSO/GRO segments that large) pass even at
#: a rate below 64 KiB/s.
BURST_BYTES = 64 * 1024


class NetnsError(RuntimeError):
    """nft refused a command; the message carries its stderr."""


def node_hosts(descriptor: Mapping[str, Any]) -> dict[str, str] | None:
    """name -> loopback address, or None unless every node has its own distinct address."""
    hosts = {n["name"]: n.get("host") for n in descriptor.get("nodes", [])}
    values = list(hosts.values())
    if not values or None in values or len(set(values)) != len(values):
        return None
    return hosts


def address_clash(descriptor: Mapping[str, Any]) -> str:
    """Why ``node_hosts`` found no address per node, in words (``n1, n2 share 127.0.0.1``)."""
    nodes = descriptor.get("nodes", [])
    if not nodes or any(n.get("host") is None for n in nodes):
        return "the cluster descriptor gives no host address per node"
    by_host: dict[str, list[str]] = {}
    for n in nodes:
        by_host.setdefault(n["host"], []).append(n["name"])
    shared = {host: names for host, names in by_host.items() if len(names) > 1}
    return "; ".join(f"{', '.join(names)} share {host}" for host, names in shared.items())


def nft(script: str) -> None:
    """Run an nft script atomically (``nft -f -``)."""
    try:
        done = subprocess.run(
            ["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=NFT_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"nft: {exc}") from None
    if done.returncode != 0:
        raise NetnsError(f"nft: {done.stderr.strip() or f'exit {done.returncode}'}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tables() -> list[str]:
    """Delete ``peerload_<pid>…`` tables whose process is gone: a killed run's cut links."""
    try:
        done = subprocess.run(
            ["nft", "list", "tables"], capture_output=True, text=True, timeout=NFT_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    stale = []
    for line in done.stdout.splitlines():
        parts = line.split()  # "table inet peerload_1234_1"
        if len(parts) != 3 or parts[1] != "inet" or not parts[2].startswith(TABLE_PREFIX):
            continue
        pid = parts[2][len(TABLE_PREFIX) :].split("_", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            stale.append(parts[2])
    for table in stale:
        try:
            nft(f"delete table inet {table}\n")
        except NetnsError:
            pass
    return stale


def namespaces(descriptor: Mapping[str, Any] | None) -> dict[str, str]:
    """name -> the namespace of each node that runs in one of its own (``--netns``)."""
    nodes = (descriptor or {}).get("nodes", [])
    return {n["name"]: n["netns"] for n in nodes if n.get("netns")}


def available(descriptor: Mapping[str, Any] | None = None) -> tuple[bool, str]:
    """Whether this backend can work here, and why (or why not) in one line."""
    if not sys.platform.startswith("linux"):
        return False, f"nftables needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return False, "needs root, or an unprivileged user+net namespace (unshare -rn)"
    path = shutil.which("nft")
    if path is None:
        return False, f"no nft binary on PATH ({INSTALL_HINT})"
    if descriptor is not None and node_hosts(descriptor) is None:
        return False, f"nftables cannot tell the nodes apart ({address_clash(descriptor)})"
    trial = f"{TABLE_PREFIX}probe_{os.getpid()}"
    try:
        nft(f"add table inet {trial}\ndelete table inet {trial}\n")
    except NetnsError as exc:
        return False, f"a trial nftables table was refused ({exc})"
    addresses = "" if descriptor is None else ", an address per node"
    return True, f"root, {path}{addresses}, trial table accepted"


class NetnsNetwork:
    """Partitions, loss and bandwidth caps as nftables rules between the nodes' addresses."""

    name = "netns"

    def __init__(
        self, descriptor: Mapping[str, Any], *, table: str | None = None, delays: Any = None
    ) -> None:
        """``delays``: what adds a delay (``slow``/``fast``) to nodes that share the machine's
        namespace, since nftables cannot and this kernel has no netem: the nodes' admin API (a
        ``ControlNetwork``), or None. Nodes in namespaces of their own get a delay line."""
        hosts = node_hosts(descriptor)
        if hosts is None:
            raise NetnsError("the cluster descriptor gives no distinct per-node host address")
        self._setup(hosts, table, delays, namespaces(descriptor))
        self.removed_stale = remove_stale_tables()

    def _setup(
        self,
        hosts: dict[str, str],
        table: str | None,
        delays: Any,
        spaces: Mapping[str, str] | None = None,
    ) -> None:
        """Node addresses, the table's name (unique to this process and instance), no rules."""
        self.delays = delays
        self.lines = DelayLines(spaces or {})
        self.hosts = hosts
        self.table = table or f"{TABLE_PREFIX}{os.getpid()}_{next(_instances)}"
        self.removed_stale: list[str] = []
        self.chains: dict[str, str] = {}
        self._numbers = itertools.count(1)

    def _nft(self, script: str) -> None:
        """Apply an nft script where the nodes' packets pass: this machine."""
        nft(script)

    def partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        pairs = symmetric_pairs(grudge)
        rules = [f"ip saddr {self.hosts[a]} ip daddr {self.hosts[b]} drop" for a, b in pairs]
        chain = self._add_chains(key, "cut", rules)
        cut = [f"{a}->{b}" for a, b in pairs]
        return {"backend": self.name, "table": self.table, "chain": chain, "cut": cut}

    def heal_partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        return self._remove_chains(key)

    def links(self, nodes: Sequence[str]) -> list[tuple[str, str]]:
        """Every link to or from one of ``nodes``, each direction once: (sender, receiver)."""
        return sorted(
            {(a, b) for a in nodes for b in self.hosts if b != a}
            | {(b, a) for a in nodes for b in self.hosts if b != a}
        )

    def loss(self, key: str, nodes: Sequence[str], percent: int) -> dict[str, Any]:
        """Drop ``percent`` % of the packets on every link of ``nodes``, drawn per packet; a
        link between two of them is drawn once."""
        pairs = self.links(nodes)
        pair_set = ", ".join(f"{self.hosts[a]} . {self.hosts[b]}" for a, b in pairs)
        # numgen's values are 0..99, which nft will not compare with 100: all of them, then
        drop = "drop" if percent >= 100 else f"numgen random mod 100 < {percent} drop"
        rules = [f"ip saddr . ip daddr {{ {pair_set} }} {drop}"] if pairs else []
        chain = self._add_chains(key, "loss", rules)
        return {
            "backend": self.name,
            "table": self.table,
            "chain": chain,
            "percent": percent,
            "links": len(pairs),
        }

    def heal_loss(self, key: str, nodes: Sequence[str]) -> dict[str, Any]:
        return self._remove_chains(key)

    def bandwidth(self, key: str, nodes: Sequence[str], kbit: int) -> dict[str, Any]:
        """Police each of ``nodes`` to ``kbit`` kbit/s to its peers and as much from them: an
        nftables ``limit``, which drops what is over the rate (no queue, unlike tc's tbf). Its
        bucket holds a second of the rate plus ``BURST_BYTES``: that much passes at once."""
        rate = kbit * 125  # bytes per second
        over = f"limit rate over {rate} bytes/second burst {BURST_BYTES} bytes drop"
        rules = []
        for node in nodes:
            peers = ", ".join(self.hosts[p] for p in self.hosts if p != node)
            if peers:
                me = self.hosts[node]
                rules += [f"ip saddr {me} ip daddr {{ {peers} }} {over}"]
                rules += [f"ip saddr {{ {peers} }} ip daddr {me} {over}"]
        chain = self._add_chains(key, "rate", rules)
        return {
            "backend": self.name,
            "table": self.table,
            "chain": chain,
            "kbit": kbit,
            "how": (
                "policed by nftables limit, not shaped by tc tbf: each node's traffic to its "
                "peers and from them, each way; over the rate dropped, no queue; a second of "
                f"the rate plus {BURST_BYTES} bytes pass at once"
            ),
        }

    def heal_bandwidth(self, key: str, nodes: Sequence[str]) -> dict[str, Any]:
        return self._remove_chains(key)

    def _add_chains(self, key: str, prefix: str, rules: Sequence[str]) -> str:
        """A chain per hook holding ``rules``, made atomically; its name, kept for ``key``."""
        chain = f"{prefix}{next(self._numbers)}"
        table = f"inet {self.table}"
        lines = [f"add table {table}"]
        for suffix, hook in HOOKS.items():
            hooked = f"type filter hook {hook} priority filter; policy accept;"
            lines.append(f"add chain {table} {chain}{suffix} {{ {hooked} }}")
            lines += [f"add rule {table} {chain}{suffix} {rule}" for rule in rules]
        self._nft("\n".join(lines) + "\n")
        self.chains[key] = chain
        return chain

    def _remove_chains(self, key: str) -> dict[str, Any]:
        """Delete the chains made for ``key``, and nothing else."""
        chain = self.chains.get(key)
        if chain is None:
            return {"backend": self.name, "note": "no rules to remove"}
        self._nft(
            "".join(
                f"flush chain inet {self.table} {chain}{suffix}\n"
                f"delete chain inet {self.table} {chain}{suffix}\n"
                for suffix in HOOKS
            )
        )
        del self.chains[key]
        return {"backend": self.name, "table": self.table, "removed": chain}

    def slow(self, key: str, nodes: Sequence[str], ms: int) -> dict[str, Any]:
        """A delay on every packet the nodes send to their peers: a delay line in each node's
        namespace (no netem here) where they have namespaces, else the nodes' own admin API,
        where they serve it."""
        if self.lines.covers(nodes):
            try:
                return {**self.lines.slow(key, nodes, ms), "backend": self.name}
            except DelayLineError as exc:
                raise NetnsError(str(exc)) from None
        if self.delays is None:
            raise NetnsError(
                "a delay needs a namespace per node (--netns), netem (absent on this kernel) "
                "or the nodes' admin API"
            )
        return {**self.delays.slow(key, nodes, ms), "backend": f"{self.name} (delay in the node)"}

    def fast(self, key: str, nodes: Sequence[str]) -> dict[str, Any]:
        if self.lines.covers(nodes):
            return {**self.lines.fast(key, nodes), "backend": self.name}
        if self.delays is None:
            return {"backend": self.name, "note": "no delay to remove"}
        return {**self.delays.fast(key, nodes), "backend": f"{self.name} (delay in the node)"}

    def reset(self, nodes: Sequence[str]) -> dict[str, Any]:
        """Drop every rule this backend made (the table holds nothing else)."""
        removed = sorted(self.chains.values())
        self.close()
        return {"backend": self.name, "removed": removed}

    def close(self) -> None:
        """End every delay line and delete the whole table; a table already gone is fine."""
        self.lines.close()
        self.chains.clear()
        self._nft(f"add table inet {self.table}\ndelete table inet {self.table}\n")
