"""The fault kinds. A new kind is one module with a FaultKind subclass, plus one line below."""

from __future__ import annotations

from .base import NOTHING_TO_HEAL, FaultKind, FaultStateError
from .crash import Crash
from .heal import Heal
from .latency import Latency
from .partition import Partition
from .pause import Pause
from .stop import Stop
from .stress import Stress

REGISTRY: dict[str, type[FaultKind]] = {
    Crash.name: Crash,
    Stop.name: Stop,
    Pause.name: Pause,
    Partition.name: Partition,
    Heal.name: Heal,
    Latency.name: Latency,
    Stress.name: Stress,
}

__all__ = ["NOTHING_TO_HEAL", "REGISTRY", "FaultKind", "FaultStateError"]
