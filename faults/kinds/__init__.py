"""The fault kinds. A new kind is one module with a FaultKind subclass, plus one line below;
everything else (the runner, the journal's records, the Cluster page's buttons, the judges)
reads what it needs from ``KINDS``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .bandwidth import Bandwidth
from .base import NOTHING, NOTHING_TO_HEAL, FaultKind, FaultStateError, KindFacts, Manual
from .churn import Churn
from .crash import Crash
from .diskfull import DiskFull
from .heal import Heal
from .latency import Latency
from .link import Link
from .loss import Loss
from .partition import Partition
from .pause import Pause
from .stop import Stop
from .stress import Stress

REGISTRY: dict[str, type[FaultKind]] = {
    kind.name: kind
    for kind in (
        Crash,
        Stop,
        Pause,
        Partition,
        Link,
        Heal,
        Latency,
        Stress,
        Churn,
        DiskFull,
        Loss,
        Bandwidth,
    )
}


class _Facts(Mapping[str, KindFacts]):
    """A read-only view of ``REGISTRY`` as facts, so the registry stays the one list."""

    def __getitem__(self, name: str) -> KindFacts:
        return REGISTRY[name].facts()

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


KINDS: Mapping[str, KindFacts] = _Facts()
"""Every kind's facts, by name, in registry order."""


def kind_facts(name: str) -> KindFacts:
    """The facts of kind ``name``; ValueError naming the known kinds for any other name."""
    if name not in REGISTRY:
        raise ValueError(f"unknown fault kind {name!r} (one of {', '.join(REGISTRY)})")
    return REGISTRY[name].facts()


def manual_kinds() -> list[KindFacts]:
    """The kinds offered as Cluster-page buttons, in registry order."""
    return [facts for facts in KINDS.values() if facts.manual is not None]


__all__ = [
    "KINDS",
    "NOTHING",
    "NOTHING_TO_HEAL",
    "REGISTRY",
    "FaultKind",
    "FaultStateError",
    "KindFacts",
    "Manual",
    "kind_facts",
    "manual_kinds",
]
