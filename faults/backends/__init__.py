"""Network backends and the context a fault kind acts through.

Processes (crash, stop, pause) always go through the control API; links (partition) go through
the chosen network backend: ``control`` (the nodes drop peers themselves, portable) or ``netns``
(nftables drops packets, Linux). ``auto`` prefers netns where it works and says why it chose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import netns
from .control import ControlClient, ControlNetwork, DescriptorError, load_descriptor

__all__ = [
    "BackendError",
    "ClusterContext",
    "ControlClient",
    "DescriptorError",
    "NetworkBackend",
    "load_descriptor",
    "select_backend",
]


class BackendError(RuntimeError):
    """The requested backend cannot work here; the message says why."""


class NetworkBackend(Protocol):
    name: str

    def partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]: ...
    def heal_partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]: ...
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


def select_backend(
    choice: str, descriptor: Mapping[str, Any], control: ControlClient
) -> tuple[NetworkBackend, str]:
    """The network backend for ``choice`` (control | netns | auto) and a one-line reason."""
    if choice == "control":
        return ControlNetwork(control), "control: requested (partitions through the admin API)"
    ok, why = netns.available(descriptor)
    if choice == "netns":
        if not ok:
            raise BackendError(f"netns backend not available: {why}")
        return netns.NetnsNetwork(descriptor), f"netns: requested ({why})"
    if choice != "auto":
        raise BackendError(f"unknown backend {choice!r} (control, netns or auto)")
    if ok:
        return netns.NetnsNetwork(descriptor), f"netns: auto picked it ({why})"
    return ControlNetwork(control), f"control: auto picked it (netns not available: {why})"
