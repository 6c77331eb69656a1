"""Network backends and the context a fault kind acts through.

Processes (crash, stop, pause) always go through the control API; links (partition, loss,
bandwidth) go through the chosen network backend: ``control`` (the nodes drop peers' messages
themselves, portable; no bandwidth cap), ``netns`` (nftables drops packets, Linux) or ``hosts``
(nftables on each host of a cluster started with ``--hosts``, over SSH). ``auto``
prefers netns where it works and says why it chose; ``choose_backend`` makes that choice without
building anything, so a run can say it before it starts and then use exactly the backend it said.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import hosts, netns
from .control import ControlClient, ControlNetwork, DescriptorError, load_descriptor

CONTROL, NETNS, AUTO = ControlNetwork.name, netns.NetnsNetwork.name, "auto"
HOSTS = hosts.HostsNetwork.name

__all__ = [
    "BackendChoice",
    "BackendError",
    "ClusterContext",
    "ControlClient",
    "DescriptorError",
    "NetworkBackend",
    "choose_backend",
    "load_descriptor",
    "select_backend",
]


class BackendError(RuntimeError):
    """The requested backend cannot work here; the message says why."""


class NetworkBackend(Protocol):
    """The one interface fault kinds reach the network through (Jepsen's ``Net``): cut and
    mend links (partition), drop a share of packets (loss), slow and speed up (a delay), cap
    the rate (bandwidth), and undo all of it; one implementation per environment (nftables by
    address, the nodes' admin API), each saying up front what it cannot do (``faults.fit``)."""

    name: str

    def partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]: ...
    def heal_partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]: ...
    def loss(self, key: str, nodes: Sequence[str], percent: int) -> dict[str, Any]: ...
    def heal_loss(self, key: str, nodes: Sequence[str]) -> dict[str, Any]: ...
    def slow(self, key: str, nodes: Sequence[str], ms: int) -> dict[str, Any]: ...
    def fast(self, key: str, nodes: Sequence[str]) -> dict[str, Any]: ...
    def bandwidth(self, key: str, nodes: Sequence[str], kbit: int) -> dict[str, Any]: ...
    def heal_bandwidth(self, key: str, nodes: Sequence[str]) -> dict[str, Any]: ...
    def reset(self, nodes: Sequence[str]) -> dict[str, Any]: ...
    def close(self) -> None: ...


def _no_faults(nodes: Sequence[str], by: str) -> list[str]:
    return []


@dataclass
class ClusterContext:
    """What a running fault kind may touch: processes, links, and the runner's active faults."""

    control: ControlClient
    network: NetworkBackend
    heal_faults: Callable[..., list[str]] = field(default=_no_faults)


@dataclass(frozen=True)
class BackendChoice:
    """Which backend a plan's ``backend`` (control | netns | auto) comes to here, and why."""

    name: str
    why: str
    """``requested (…)`` or ``auto picked it (…)``."""

    @property
    def reason(self) -> str:
        """One line: ``control: auto picked it (netns not available: no nft binary …)``."""
        return f"{self.name}: {self.why}"


def choose_backend(choice: str, descriptor: Mapping[str, Any] | None = None) -> BackendChoice:
    """The backend ``choice`` comes to (BackendError if it cannot work here). Without a
    descriptor (before the cluster exists) netns is judged on the machine alone."""
    if choice == CONTROL:
        return BackendChoice(CONTROL, "requested (partitions through the admin API)")
    if choice not in (NETNS, AUTO, HOSTS):
        raise BackendError(f"unknown backend {choice!r} (control, netns, hosts or auto)")
    if hosts.on_hosts(descriptor):  # the nodes' packets pass the hosts' nftables, not ours
        how = "requested" if choice == HOSTS else f"{choice} on hosts"
        return BackendChoice(HOSTS, f"{how} (nftables on each host over SSH)")
    if choice == HOSTS:
        raise BackendError("hosts backend: the cluster runs no nodes on hosts (--hosts FILE)")
    ok, why = netns.available(descriptor)
    if choice == NETNS:
        if not ok:
            raise BackendError(f"netns backend not available: {why}")
        return BackendChoice(NETNS, f"requested ({why})")
    if ok:
        return BackendChoice(NETNS, f"auto picked it ({why})")
    return BackendChoice(CONTROL, f"auto picked it (netns not available: {why})")


def select_backend(
    choice: str | BackendChoice, descriptor: Mapping[str, Any], control: ControlClient
) -> tuple[NetworkBackend, str]:
    """The network backend for ``choice`` (control | netns | auto, or a choice already made)
    and a one-line reason."""
    chosen = choice if isinstance(choice, BackendChoice) else choose_backend(choice, descriptor)
    if chosen.name == NETNS:
        return netns.NetnsNetwork(descriptor, delays=ControlNetwork(control)), chosen.reason
    if chosen.name == HOSTS:
        return hosts.HostsNetwork(descriptor, delays=ControlNetwork(control)), chosen.reason
    return ControlNetwork(control), chosen.reason
