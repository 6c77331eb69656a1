"""latency: a delay on everything the target sends its peers. No tc netem on this kernel, so it
is a delay line in the node's namespace (netns backend, ``--netns``: no node's help needed) or,
for nodes that share the machine's namespace, a delay set in the node through its admin API."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from proto.admin import MAX_LATENCY_MS  # the node's admin API limit, defined once

from ..backends import netns
from ..backends.delayline import TUN_PATH
from ..backends.netns import NetnsNetwork
from ..types import FaultSpec, Step
from .base import NETWORK, FaultKind, whole_number


class Latency(FaultKind):
    name = "latency"
    summary = "delays what the target sends its peers (a delay line per namespace, or in the node)"
    acts_on = NETWORK
    heals_by = "ms = 0"
    params = {"ms": f"the delay in milliseconds, 1..{MAX_LATENCY_MS}"}

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        super().validate(fault)
        whole_number(fault, "ms", 1, MAX_LATENCY_MS, "the delay in milliseconds", "milliseconds")

    needs_namespaces = True

    @classmethod
    def needs_admin_api(cls, backend: str, descriptor: Mapping[str, Any] | None = None) -> bool:
        """Set in the node, unless the netns backend has a namespace per node to delay in."""
        return not (backend == NetnsNetwork.name and netns.namespaces(descriptor))

    @classmethod
    def unfit(cls, descriptor: Mapping[str, Any], backend: str | None = None) -> str | None:
        """A delay line opens a TUN device: without one, said before the run, not mid-plan."""
        if backend is None or cls.needs_admin_api(backend, descriptor) or os.path.exists(TUN_PATH):
            return None
        return f"the delay line needs {TUN_PATH}, which this machine lacks (modprobe tun)"

    def inject(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.slow(step.key, step.nodes, step.params["ms"])

    def recover(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.fast(step.key, step.nodes)
