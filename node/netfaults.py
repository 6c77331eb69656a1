"""Fault state a node applies to its own peer links, set through the admin API.

The fault controller partitions the network by telling each node which peers to ignore. Dropped
traffic behaves like a black hole, not a refusal: the caller waits for its deadline. That is
what a real partition looks like to the failure detector.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MAX_LATENCY_MS = 10_000


@dataclass
class NetFaults:
    drop: frozenset[str] = field(default_factory=frozenset)
    latency_ms: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def drops(self, peer_name: str | None) -> bool:
        return peer_name is not None and peer_name in self.drop

    def partition(self, names: list[str]) -> None:
        with self._lock:
            self.drop = frozenset(names)

    def set_latency(self, ms: int) -> None:
        if not 0 <= ms <= MAX_LATENCY_MS:
            raise ValueError(f"latency must be 0..{MAX_LATENCY_MS} ms")
        self.latency_ms = ms

    def heal(self) -> None:
        with self._lock:
            self.drop = frozenset()
            self.latency_ms = 0

    def state(self) -> dict:
        return {"drop": sorted(self.drop), "latency_ms": self.latency_ms}
