"""Everything a run produced, indexed once so criteria and rules stay small pure functions.

``Evidence`` holds the raw inputs (samples, windows, monitor series, journal, fault results,
integrity counts, config) and answers the questions every criterion asks: which requests started
in this window, which windows are of this kind, which fault windows overlap.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from reports import integrity
from reports.samples import Sample, requests

Window = dict[str, Any]

#: Window kinds from docs/contracts.md.
LEVEL, BASELINE, FAULT, RECOVERY, STRESS, VERIFY = (
    "level",
    "baseline",
    "fault",
    "recovery",
    "stress",
    "verify",
)
#: Kinds that carry steady, fault-free load: where capacity and latency are judged.
STEADY_KINDS = (LEVEL, BASELINE)
#: The Locust shape's whole fault-tolerance stage (steady load while the plan runs).
FAULT_STAGE = "faults"
#: Kinds with generated load, where both protocols must make progress.
LOAD_KINDS = (LEVEL, BASELINE, FAULT_STAGE, FAULT, RECOVERY, STRESS)


@dataclass
class Evidence:
    """Raw run data plus a time index over requests (derived ops excluded)."""

    samples: list[Sample] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    journal: list[dict[str, Any]] = field(default_factory=list)
    fault_results: list[dict[str, Any]] = field(default_factory=list)
    integrity: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    breaking_point: dict[str, Any] = field(default_factory=dict)
    """What the load shape recorded: ``highest_held`` and ``broke_at`` (users), if it ramped."""
    status: dict[str, Any] = field(default_factory=dict)
    """How the run went (docs/contracts.md, "Run status"): interrupted, cut short, checks."""
    baseline: dict[str, Any] = field(default_factory=dict)
    """A previous run's figures to compare with (``reports.regression``), or empty."""
    nodes: list[dict[str, Any]] = field(default_factory=list)
    """The nodes as started, each with its seeded ``files`` (what the model knows they hold)."""
    acked: list[dict[str, Any]] = field(default_factory=list)
    """Acknowledged uploads: ``name``, ``sha256``, ``size``, ``node``, ``t`` (acknowledged at)."""
    topology: dict[str, Any] = field(default_factory=dict)
    """The links built: ``{"spec", "nodes", "edges"}``; empty = a full mesh over the nodes."""
    network_match: str | None = None
    """How the network matches a search term to a file name (``reports.model``)."""
    network_hops: str | None = None
    """What the network's hop counts mean (``reports.model.HOPS_RULES``; None: ``path``)."""
    network_statuses: dict[str, list[str]] | None = None
    """Each operation's failure statuses the network documents (``reports.statuses``)."""
    crashes: dict[str, Any] | None = None
    """Crashes the node logs told of (``{"nodes", "counts", "events"}``); None: not read."""
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Derived results computed once per evidence (the checker's classification)."""

    def __post_init__(self) -> None:
        self.samples = sorted(self.samples, key=lambda s: s["t"])
        self._all_times = [s["t"] for s in self.samples]
        self.requests: list[Sample] = requests(self.samples)
        self._times = [s["t"] for s in self.requests]
        self.series = sorted(self.series, key=lambda r: r["t"])
        self.windows = sorted(self.windows, key=lambda w: (w["start"], w["end"], w["name"]))

    @classmethod
    def from_run(cls, run: dict[str, Any]) -> Evidence:
        """Build from a ``run`` dict (see ``reports.build``); missing parts become empty."""
        return cls(
            samples=list(run.get("samples") or []),
            windows=list(run.get("windows") or []),
            series=list(run.get("series") or []),
            journal=list(run.get("journal") or []),
            fault_results=list(run.get("fault_results") or []),
            integrity=integrity.of_run(
                run.get("integrity"),
                integrity.gone_with_data(run.get("windows"), run.get("acked")),
            ),
            config=dict(run.get("config") or {}),
            breaking_point=dict((run.get("concurrency") or {}).get("breaking_point") or {}),
            status=dict(run.get("status") or {}),
            baseline=dict(run.get("baseline") or {}),
            nodes=list(run.get("nodes") or []),
            acked=list(run.get("acked") or []),
            topology=dict(run.get("topology") or {}),
            network_match=run.get("network_match"),
            network_hops=run.get("network_hops"),
            network_statuses=run.get("network_statuses"),
            crashes=run.get("crashes"),
        )

    def between(self, start: float, end: float) -> list[Sample]:
        """Requests that started in ``[start, end)``."""
        lo = bisect.bisect_left(self._times, start)
        hi = bisect.bisect_left(self._times, end)
        return self.requests[lo:hi]

    def in_window(self, window: Window) -> list[Sample]:
        """Requests that started inside ``window``."""
        return self.between(window["start"], window["end"])

    def samples_in(self, window: Window) -> list[Sample]:
        """Every sample (derived measurements such as TTFB included) started inside ``window``."""
        lo = bisect.bisect_left(self._all_times, window["start"])
        hi = bisect.bisect_left(self._all_times, window["end"])
        return self.samples[lo:hi]

    def lacks(self, capability: str) -> bool:
        """Whether the network declared it does not offer ``capability`` (``networks.adapter``);
        a run that declared nothing lacks nothing."""
        declared = self.status.get("capabilities")
        return isinstance(declared, list) and capability not in declared

    @property
    def node_count(self) -> int:
        """Nodes in the network under test (the run status says; else the monitor rows)."""
        count = self.status.get("nodes") or self.config.get("nodes")
        if not count and self.series:
            count = self.series[-1].get("nodes_total")
        return int(count or 0)

    def of_kind(self, *kinds: str) -> list[Window]:
        """Windows of the given kinds, in time order."""
        return [w for w in self.windows if w.get("kind") in kinds]

    def overlapping(self, window: Window, *kinds: str) -> list[Window]:
        """Other windows (of ``kinds``, or any) whose time range intersects ``window``."""
        return [
            w
            for w in self.windows
            if w is not window
            and (not kinds or w.get("kind") in kinds)
            and w["start"] < window["end"]
            and window["start"] < w["end"]
        ]

    def recovery_window(self, fault: Window) -> Window | None:
        """The recovery window that follows a fault window (same fault id and target)."""
        suffix = fault["name"].split(":", 1)[-1]
        for w in self.of_kind(RECOVERY):
            same_ids = (w.get("fault_id"), w.get("target")) == (
                fault.get("fault_id"),
                fault.get("target"),
            )
            if (same_ids and w.get("fault_id") is not None) or w["name"] == f"recovery:{suffix}":
                return w
        return None

    def fault_result(self, fault: Window) -> dict[str, Any] | None:
        """The faults side's own measurement for this fault window, if it wrote one."""
        for entry in self.fault_results:
            if entry.get("fault_id") == fault.get("fault_id") and entry.get("target") == fault.get(
                "target"
            ):
                return entry
        return None

    @property
    def t0(self) -> float:
        """Start of the test: the earliest instant any window, row or request mentions."""
        starts = [w["start"] for w in self.windows] + self._times[:1]
        starts += [r["t"] for r in self.series[:1]]
        return min(starts) if starts else 0.0

    @property
    def t_end(self) -> float:
        """End of the test: the latest window end, row or request start."""
        ends = [w["end"] for w in self.windows] + self._times[-1:]
        ends += [r["t"] for r in self.series[-1:]]
        return max(ends) if ends else 0.0
