"""Plain data shared by the plan, the timeline and the fault kinds (no behaviour, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

START, END = "start", "end"


class PlanError(ValueError):
    """A plan that must not run; the message names the offending field, e.g. ``fault[1].at``."""


@dataclass(frozen=True)
class FaultSpec:
    """One ``[[fault]]`` entry as written, durations already in seconds."""

    index: int
    id: str
    kind: str
    target: str | tuple[str, ...] | None
    at: float
    duration: float | None
    gap: float = 0.0
    allow_majority: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def where(self) -> str:
        """The field path prefix used in error messages."""
        return f"fault[{self.index}]"


@dataclass(frozen=True)
class Plan:
    """A validated plan file; node names are checked later, against a cluster."""

    version: int
    seed: int | None
    backend: str
    faults: tuple[FaultSpec, ...]
    allow_majority: bool = False
    description: str = ""
    source: str = "<plan>"


@dataclass(frozen=True)
class Resolved:
    """One concrete application of a fault: which nodes, shown as which target label."""

    target: str
    nodes: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    at: float | None = None
    """Seconds after the fault's ``at`` when this application starts; None: in turn, each one
    after the previous one's ``duration`` and ``gap`` (target = "each")."""
    duration: float | None = None
    """How long this application lasts; None: the fault's ``duration``."""
    fault_id: str | None = None
    """The id its steps carry; None: the fault's. One fault that takes the same node down more
    than once (churn) names each application apart (``churn#3``), so each is a fault instance
    of its own (``Step.key``) with a window of its own, as a crash of its node would be."""


@dataclass(frozen=True)
class Step:
    """One thing to do at one offset: start or end (heal) one fault on one target."""

    offset_s: float
    fault_id: str
    kind: str
    phase: str
    target: str
    nodes: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    index: int = 0

    @property
    def key(self) -> str:
        """Identifies the fault instance across its start and end steps ("crash-each:n2")."""
        return f"{self.fault_id}:{self.target}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": round(self.offset_s, 3),
            "fault_id": self.fault_id,
            "kind": self.kind,
            "phase": self.phase,
            "target": self.target,
            "nodes": list(self.nodes),
            "params": dict(self.params),
        }
