"""The peer operations (flood, ping, ping_req, join) in one table, served two ways: as frames on the
peer wire protocol (``node/wire.py``), which is how nodes talk, and as REST routes
(``node/api.py``), kept for curl. Each operation checks its body here, once, whichever way it
came, and answers ``(status, body)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .detector import Detector
from .flood import Flood, valid_message
from .membership import Membership
from .neighbours import Neighbours
from .wire import BAD_REQUEST, OK, Handler


@dataclass(frozen=True)
class PeerOp:
    """One peer operation: its name on the wire, its REST path, and what it does."""

    name: str
    path: str
    run: Handler


def peer_ops(
    flood: Flood,
    membership: Membership,
    detector: Detector,
    neighbours: Neighbours,
    ttl_cap: int,
) -> dict[str, PeerOp]:
    """The table, by wire name, bound to one node's flood, membership and failure detector."""

    def relay(body: dict, sender: str | None) -> tuple[int, dict]:
        if not valid_message(body, ttl_cap):
            return BAD_REQUEST, {"error": "malformed flood message"}
        return OK, flood.relay(body, sender)

    def ping(body: dict, sender: str | None) -> tuple[int, dict]:
        return OK, membership.message_for(membership.absorb(body))

    def ping_req(body: dict, sender: str | None) -> tuple[int, dict]:
        if not isinstance(body.get("target"), str):
            return BAD_REQUEST, {"error": "target must be a member's node_id"}
        return OK, detector.on_ping_req(body)

    def join(body: dict, sender: str | None) -> tuple[int, dict]:
        return OK, membership.on_join(body, neighbours.accept)

    ops = (
        PeerOp("flood", "/flood", relay),
        PeerOp("ping", "/peers/ping", ping),
        PeerOp("ping_req", "/peers/ping-req", ping_req),
        PeerOp("join", "/peers/join", join),
    )
    return {op.name: op for op in ops}
