"""Fault state a node applies to its own peer links, set through the admin API.

The fault controller partitions the network by telling each node which peers to ignore, and
makes links lossy by giving a share of peer messages to drop (``loss_pct``, drawn per message,
both directions: the faults' ``loss`` kind without nftables). Dropped traffic behaves like a
black hole, not a refusal: the caller waits. That is what a real partition or a lost packet
looks like to the failure detector. How long it waits is one policy for every path a peer can
take (REST, peer frames, gRPC, pulls): ``black_hole_s``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from .config import BLACK_HOLE_S, MAX_LATENCY_MS, MAX_LOSS_PCT


def black_hole_s(remaining_s: float | None = None) -> float:
    """How long a dropped request hangs before it fails: until the caller's deadline
    (``remaining_s``, when the protocol carries one), at most ``BLACK_HOLE_S``."""
    if remaining_s is None:
        return BLACK_HOLE_S
    return max(0.0, min(remaining_s, BLACK_HOLE_S))


@dataclass
class NetFaults:
    drop: frozenset[str] = field(default_factory=frozenset)
    latency_ms: int = 0
    loss_pct: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def drops(self, peer_name: str | None) -> bool:
        """Whether this message to or from ``peer_name`` is dropped: always for a partitioned
        peer; with ``loss_pct`` set, that share of any peer's messages, drawn per call."""
        if peer_name is None:
            return False
        return peer_name in self.drop or random.random() * 100 < self.loss_pct

    def partition(self, names: list[str]) -> None:
        with self._lock:
            self.drop = frozenset(names)

    def set_latency(self, ms: int) -> None:
        if not 0 <= ms <= MAX_LATENCY_MS:
            raise ValueError(f"latency must be 0..{MAX_LATENCY_MS} ms")
        self.latency_ms = ms

    def set_loss(self, pct: int) -> None:
        if not 0 <= pct <= MAX_LOSS_PCT:
            raise ValueError(f"loss must be 0..{MAX_LOSS_PCT} (percent)")
        self.loss_pct = pct

    def heal(self) -> None:
        with self._lock:
            self.drop = frozenset()
            self.latency_ms = 0
            self.loss_pct = 0

    def state(self) -> dict:
        return {"drop": sorted(self.drop), "latency_ms": self.latency_ms, "loss_pct": self.loss_pct}
