"""The peer operations (flood, heartbeat, join) in one table, served two ways: as frames on the
peer wire protocol (``node/wire.py``), which is how nodes talk, and as REST routes
(``node/api.py``), kept for curl. Each operation checks its body here, once, whichever way it
came, and answers ``(status, body)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .flood import Flood, valid_message
from .membership import Membership
from .wire import BAD_REQUEST, OK, Handler


@dataclass(frozen=True)
class PeerOp:
    """One peer operation: its name on the wire, its REST path, and what it does."""

    name: str
    path: str
    run: Handler


def peer_ops(flood: Flood, membership: Membership, ttl_cap: int) -> dict[str, PeerOp]:
    """The table, by wire name, bound to one node's flood and membership."""

    def relay(body: dict, sender: str | None) -> tuple[int, dict]:
        if not valid_message(body, ttl_cap):
            return BAD_REQUEST, {"error": "malformed flood message"}
        return OK, flood.relay(body, sender)

    def gossip(body: dict, sender: str | None) -> tuple[int, dict]:
        return OK, membership.receive(body)

    ops = (
        PeerOp("flood", "/flood", relay),
        PeerOp("heartbeat", "/peers/heartbeat", gossip),
        PeerOp("join", "/peers/join", gossip),
    )
    return {op.name: op for op in ops}
