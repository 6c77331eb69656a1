"""bandwidth: the target's traffic to and from other nodes capped at ``kbit`` kbit/s each way.

Made by the netns backend only, as an nftables ``limit rate over`` rule: it *polices* — packets
over the rate are dropped, not queued, so TCP backs off and retransmits rather than waiting in
a queue as behind a slow link (``tc``'s tbf would shape, but on the nodes' veths it would cap
their clients' traffic too, and loopback nodes have no veth of their own). Clients' traffic is
never touched. The control backend cannot make it: the step fails at once, touching nothing,
and the start of the run says so (faults.fit).
"""

from __future__ import annotations

from typing import Any

from ..backends.netns import NetnsNetwork
from ..types import FaultSpec, Step
from .base import NETWORK, FaultKind, whole_number

MIN_KBIT, MAX_KBIT = 8, 10_000_000  # 1 kB/s .. 10 Gbit/s


class Bandwidth(FaultKind):
    name = "bandwidth"
    summary = (
        "caps the target's traffic to and from other nodes at kbit kbit/s each way; nftables "
        "polices (drops what is over the rate, no queue); netns backend only"
    )
    acts_on = NETWORK
    loses_messages = True
    needs_backend = NetnsNetwork.name
    heals_by = "removing the rate rules"
    params = {"kbit": f"the cap in kbit/s, each way, {MIN_KBIT}..{MAX_KBIT}"}

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        super().validate(fault)
        whole_number(fault, "kbit", MIN_KBIT, MAX_KBIT, "the cap in kbit/s", "kbit/s")

    def inject(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.bandwidth(step.key, step.nodes, step.params["kbit"])

    def recover(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.heal_bandwidth(step.key, step.nodes)
