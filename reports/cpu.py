"""Who used the CPU over a stretch of the run: the machine, the load generator, each node.

The monitor measures all three at every row (locustfiles/cpumeter.py, docs/contracts.md): a
node's and the load generator's CPU in percent of one core, the machine's in percent of all its
cores. A recommendation makes a claim about CPU only from these readings: "idle" when every one
of them stayed low, "saturated" when half of them or more were at the limit, and no claim where
a reading is missing. Nodes and load generator share the machine's cores: on a saturated
machine every latency is partly the machine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reports.samples import percentile
from reports.series import per_node, values

#: Below this every reading counts as idle: percent of one core (a process), of all cores (the
#: machine).
IDLE_PCT = 25.0
#: A node's event loop (gevent, asyncio) runs on one core: at this percent of it, it computes.
NODE_SATURATED_PCT = 85.0
#: The machine at this percent of all its cores: nodes and load generator queue for the CPU.
MACHINE_SATURATED_PCT = 85.0
#: Nodes named in a description, busiest first (a 20-node run lists the rest as a count).
NODES_SHOWN = 4
#: The monitor row's columns (docs/contracts.md, "Monitor series rows").
MACHINE, GENERATOR, GENERATOR_BUSIEST, NODES = (
    "machine_cpu",
    "generator_cpu_total",
    "generator_cpu",
    "cpu",
)


@dataclass(frozen=True)
class Reading:
    """A figure's readings over the stretch: the median (what it sustained) and the peak."""

    typical: float
    peak: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Reading | None:
        """None when there is no reading at all."""
        if not values:
            return None
        return cls(float(percentile(values, 50)), float(max(values)))

    def __str__(self) -> str:
        low, high = f"{self.typical:.0f}", f"{self.peak:.0f}"
        return f"{low}%" if low == high else f"{low}–{high}%"


def measured(rows: Sequence[dict[str, Any]], key: str) -> list[float]:
    """The readings of one column, rows without one left out."""
    return [v for v in values(list(rows), key) if v is not None]


@dataclass(frozen=True)
class CpuUse:
    """The CPU readings of a stretch of monitor rows."""

    machine: Reading | None
    generator: Reading | None
    generator_busiest: Reading | None
    nodes: dict[str, Reading] = field(default_factory=dict)
    #: Nodes in the network then (the rows' ``nodes_total``): one not measured is no evidence.
    nodes_total: int = 0

    @classmethod
    def of(cls, rows: Sequence[dict[str, Any]]) -> CpuUse:
        readings = {name: Reading.of(values) for name, values in per_node(rows, NODES).items()}
        return cls(
            machine=Reading.of(measured(rows, MACHINE)),
            generator=Reading.of(measured(rows, GENERATOR)),
            generator_busiest=Reading.of(measured(rows, GENERATOR_BUSIEST)),
            nodes={name: r for name, r in readings.items() if r is not None},
            nodes_total=max((int(r.get("nodes_total") or 0) for r in rows), default=0),
        )

    def hot_nodes(self) -> dict[str, Reading]:
        """Nodes that sustained a saturated core."""
        return {n: r for n, r in self.nodes.items() if r.typical >= NODE_SATURATED_PCT}

    def machine_saturated(self) -> bool:
        return self.machine is not None and self.machine.typical >= MACHINE_SATURATED_PCT

    def generator_saturated(self, limit_pct: float) -> bool:
        """The load generator's busiest process sustained ``limit_pct`` of its core."""
        busiest = self.generator_busiest
        return busiest is not None and busiest.typical >= limit_pct

    def missing(self) -> list[str]:
        """What was not measured: a claim about CPU as a whole needs all three."""
        found = {"the machine": self.machine, "the load generator": self.generator}
        missing = [name for name, reading in found.items() if reading is None]
        if not self.nodes:
            missing.append("the nodes")
        elif len(self.nodes) < self.nodes_total:
            missing.append(f"{self.nodes_total - len(self.nodes)} of {self.nodes_total} nodes")
        return missing

    def idle(self) -> bool:
        """Every reading of the machine, the load generator and each node stayed low."""
        readings = [self.machine, self.generator, *self.nodes.values()]
        return not self.missing() and all(r.peak < IDLE_PCT for r in readings if r)

    def describe(self) -> str:
        """The readings in one line, saying what each percent is of."""
        parts = []
        if self.machine is not None:
            parts.append(f"machine {self.machine} of all cores")
        if self.generator is not None:
            parts.append(f"load generator {self.generator}")
        busiest = sorted(self.nodes.items(), key=lambda item: -item[1].typical)
        nodes = ", ".join(f"{n} {r}" for n, r in busiest[:NODES_SHOWN])
        if len(busiest) > NODES_SHOWN:
            nodes += f", +{len(busiest) - NODES_SHOWN} more"
        if nodes:
            parts.append(f"nodes {nodes}")
        if self.generator is not None or nodes:
            parts[-1] += " (percent of one core)"
        missing = self.missing()
        if missing:
            parts.append(f"not measured: {', '.join(missing)}")
        return "; ".join(parts)
