"""loss: a share of the packets on the target's links dropped at random, both directions.

With netns, nftables drops ``percent`` % of the packets between the target's address and every
other node's, drawn per packet (``numgen random``): TCP retransmits, so messages arrive late or,
past their deadline, not at all. With control (nodes that share an address, or no nft), each
target node drops that share of the peer messages it sends and receives, whole, like a black
hole (node/netfaults.py): a harsher fault at the same percent, and peerload's node only. Clients'
traffic is never touched. The target stays in service (not a node failure), but its peers may
stop hearing from it (``loses_messages``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proto.admin import MAX_LOSS_PCT  # the node's admin API limit, defined once

from ..backends.control import ControlNetwork
from ..types import FaultSpec, Step
from .base import NETWORK, FaultKind, whole_number


class Loss(FaultKind):
    name = "loss"
    summary = (
        "drops a share of the packets on the target's links to other nodes, at random, both "
        "directions (nftables; control backend: of its peer messages, in the node)"
    )
    acts_on = NETWORK
    loses_messages = True
    heals_by = "removing the drop rules (control: percent 0)"
    params = {
        "percent": f"the share dropped, 1..{MAX_LOSS_PCT}: of packets (netns), of peer "
        "messages (control)"
    }

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        super().validate(fault)
        whole_number(fault, "percent", 1, MAX_LOSS_PCT, "the share of packets dropped", "")

    @classmethod
    def needs_admin_api(cls, backend: str, descriptor: Mapping[str, Any] | None = None) -> bool:
        """The control backend has the nodes drop messages themselves; netns needs no node."""
        return backend == ControlNetwork.name

    def inject(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.loss(step.key, step.nodes, step.params["percent"])

    def recover(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.heal_loss(step.key, step.nodes)
