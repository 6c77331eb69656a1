"""The backend for nodes on other machines (networks.cluster --hosts): nftables on every host.

The same rules as the netns backend (faults/backends/netns.py: drop, ``numgen`` loss, in a
table of this run's own), applied with ``nft -f -`` over SSH on each host the descriptor
lists (networks/ssh.py, the hosts file it carries). A node's packets leave through its own
host's ``output`` hook, so the full rule set on every host cuts both directions of a link.
The nodes of one host share its address: rules tell hosts apart, not the nodes of one host, so
a cut between two nodes of the same host is made by the nodes themselves through their admin
API (as the control backend does; refused where there is none), a loss applies to a host's
links to the other hosts, and a bandwidth cap stays the netns backend's. A host that does not
answer is named in the step's error after the others got the rules, and heal, reset and close
still reach every other host. Tables are named after this process and machine
(``peerload_PID_N_MACHINE``): the next backend made on this machine deletes, on every host,
those whose process is gone (a SIGKILLed run's cuts).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from networks.hosts import HostsError, parse_hosts
from networks.ssh import CommandError, HostError, SshHost

from ..targets import symmetric_pairs
from .netns import TABLE_PREFIX, NetnsError, NetnsNetwork, pid_alive

HOSTS_KEY = "hosts"  # the descriptor's list of hosts (networks/remote.py)
#: Names the machine that made a table on the hosts (its tables are ``peerload_PID_N_MACHINE``),
#: so stale ones are judged by the pids of the machine that made them.
MACHINE = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
STALE = re.compile(rf"table inet ({TABLE_PREFIX}\d+_\d+_{MACHINE})\b")
_instances = itertools.count(1)


def on_hosts(descriptor: Mapping[str, Any] | None) -> bool:
    """Whether the descriptor's nodes run on hosts reached over SSH."""
    return bool(descriptor and descriptor.get(HOSTS_KEY))


class HostsNetwork(NetnsNetwork):
    """Partitions and loss as nftables rules on every host, by host address."""

    name = "hosts"

    def __init__(
        self, descriptor: Mapping[str, Any], *, table: str | None = None, delays: Any = None
    ) -> None:
        try:
            hosts = parse_hosts(descriptor[HOSTS_KEY])
        except (KeyError, TypeError, HostsError) as exc:
            raise NetnsError(f"the cluster descriptor's hosts: {exc}") from None
        table = table or f"{TABLE_PREFIX}{os.getpid()}_{next(_instances)}_{MACHINE}"
        self._setup({n["name"]: n["host"] for n in descriptor["nodes"]}, table, delays)
        self._control_dir = Path(tempfile.mkdtemp(prefix="pl-nft-"))
        self.ssh = [SshHost(h, self._control_dir, hosts) for h in hosts.hosts]
        self.removed_stale = self._remove_stale()
        self._inside: dict[str, dict[str, list[str]]] = {}  # key -> the nodes' own cuts

    def _remove_stale(self) -> list[str]:
        """Delete, on every host, the tables a backend on this machine made and never closed
        (its process is gone: a SIGKILLed run's cuts). Tables of other machines are theirs."""
        removed = []
        for ssh in self.ssh:
            try:
                listing = ssh.run("nft list tables")
            except (HostError, CommandError):
                continue  # the run's first step on that host names it
            for table in STALE.findall(listing):
                if not pid_alive(int(table.split("_")[1])):
                    try:
                        ssh.run(f"nft delete table inet {table}")
                        removed.append(f"{ssh.host.name}:{table}")
                    except (HostError, CommandError):
                        pass
        return removed

    def _nft(self, script: str) -> None:
        """The script on every host; the hosts that refused or did not answer, named."""
        errors = []
        for ssh in self.ssh:
            try:
                ssh.run("nft -f -", stdin=script.encode())
            except (HostError, CommandError) as exc:
                errors.append(str(exc))
        if errors:
            raise NetnsError("; ".join(errors))

    def partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """Links between hosts cut by nftables there; links between two nodes of one host
        (one address) by the nodes themselves, through their admin API (the ``delays``
        backend), where the network serves it."""
        inside: dict[str, list[str]] = {}
        for a, b in symmetric_pairs(grudge):
            if self.hosts[a] == self.hosts[b]:
                inside.setdefault(a, []).append(b)
        if inside and self.delays is None:
            a, [b, *_] = next(iter(inside.items()))
            raise NetnsError(
                f"{a} and {b} share host {self.hosts[a]}: nftables on the hosts cannot cut "
                "between them, and no admin API was given"
            )
        across = {a: [b for b in bs if self.hosts[a] != self.hosts[b]] for a, bs in grudge.items()}
        out = super().partition(key, across)
        if inside:
            out["in_nodes"] = self.delays.partition(key, inside)
            self._inside[key] = inside
        return out

    def heal_partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        out = self._remove_chains(key)
        inside = self._inside.pop(key, None)
        if inside:
            out["in_nodes"] = self.delays.heal_partition(key, inside)
        return out

    def reset(self, nodes: Sequence[str]) -> dict[str, Any]:
        """Every rule on every host, and every cut the nodes make themselves."""
        for key in list(self._inside):
            self.delays.heal_partition(key, self._inside.pop(key))
        return super().reset(nodes)

    def links(self, nodes: Sequence[str]) -> list[tuple[str, str]]:
        """One (sender, receiver) per pair of distinct host addresses the nodes' links cross."""
        by_address: dict[tuple[str, str], tuple[str, str]] = {}
        for a, b in super().links(nodes):
            pair = (self.hosts[a], self.hosts[b])
            if pair[0] != pair[1]:
                by_address.setdefault(pair, (a, b))
        return sorted(by_address.values())

    def close(self) -> None:
        """Delete the table on every host, then end the connections."""
        try:
            super().close()
        finally:
            for ssh in self.ssh:
                ssh.close()
            shutil.rmtree(self._control_dir, ignore_errors=True)
