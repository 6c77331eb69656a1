"""News of membership changes waiting to be piggybacked on peer messages.

SWIM spreads a change (a join, a suspicion, a death, a refutation) by piggybacking it on the
probes and acks a node sends anyway, and, while there is news, on a few gossip messages to
random members (memberlist's ``TransmitLimitedQueue`` does the same). Each piece is sent a
bounded number of times, ``RETRANSMIT_MULT * ceil(log10(N + 2))``: enough copies for an
epidemic to reach all N members with high probability, and then it stops costing anything.
Newer news about a member replaces older news about it; the least-sent pieces go first.
"""

from __future__ import annotations

import math

from gevent.event import Event

from .config import MAX_NEWS, RETRANSMIT_MULT


def transmit_limit(members: int) -> int:
    """How many times one piece of news is sent in a network of ``members``."""
    return RETRANSMIT_MULT * max(1, math.ceil(math.log10(members + 2)))


class News:
    """Pieces of news by member id, each with how many times it has been sent."""

    def __init__(self) -> None:
        self._items: dict[str, list] = {}  # node_id -> [item, times sent]
        self.waiting = Event()  # set while there is news: gossip sleeps on it, never polls

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: dict) -> None:
        """Queue ``item`` (a member's info with ``inc`` and ``state``), replacing older news."""
        self._items[item["node_id"]] = [item, 0]
        self.waiting.set()

    def take(self, members: int, copies: int = 1) -> list[dict]:
        """Up to ``MAX_NEWS`` pieces for a message sent ``copies`` times; each piece counts as
        sent that many times and is dropped once sent ``transmit_limit(members)`` times."""
        if not self._items:
            return []
        limit = transmit_limit(members)
        picked = sorted(self._items.items(), key=lambda kv: kv[1][1])[:MAX_NEWS]
        for node_id, entry in picked:
            entry[1] += copies
            if entry[1] >= limit:
                del self._items[node_id]
        if not self._items:
            self.waiting.clear()
        return [entry[0] for _, entry in picked]

    def about(self) -> list[str]:
        """The ids the pending news is about (a suspect hears of its suspicion this way)."""
        return list(self._items)
