"""The fault controller: plans of crashes, pauses and partitions, run on a seeded schedule.

Typical use (the Locust suite does this on the master)::

    runner = faults.prepare("faults/plans/phase4.toml", descriptor, journal="results/faults.jsonl")
    runner.events.fault_started.add_listener(on_fault_started)
    runner.start()          # background; offsets count from t0 (default: now)
    ...
    runner.stop(wait=60)    # heals everything still active, then returns

What a kind is (takes its target down? a Cluster-page button? how it heals?) is asked of the
kind: ``faults.kind_facts("crash").takes_down``, ``faults.KINDS``, ``faults.manual_kinds()``;
every journal step record carries ``takes_down`` and ``acts_on``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .backends import BackendChoice, BackendError, DescriptorError, choose_backend, load_descriptor
from .fit import Fit, fit_for
from .journal import Journal, read_journal, step_records
from .kinds import KINDS, KindFacts, Manual, kind_facts, manual_kinds
from .plan import load_plan, parse_duration, parse_plan
from .runner import ABORTED, COMPLETED, FAILED, INTERRUPTED, Runner, RunResult
from .targets import FULL_MESH, Layout
from .timeline import Timeline, resolve, validate_against
from .types import FaultSpec, Plan, PlanError, Step

__all__ = [
    "FULL_MESH",
    "Layout",
    "ABORTED",
    "COMPLETED",
    "FAILED",
    "INTERRUPTED",
    "KINDS",
    "BackendChoice",
    "BackendError",
    "DescriptorError",
    "FaultSpec",
    "Fit",
    "Journal",
    "KindFacts",
    "Manual",
    "Plan",
    "PlanError",
    "RunResult",
    "Runner",
    "Step",
    "Timeline",
    "choose_backend",
    "fit_for",
    "kind_facts",
    "load_descriptor",
    "load_plan",
    "manual_kinds",
    "parse_duration",
    "parse_plan",
    "prepare",
    "read_journal",
    "resolve",
    "step_records",
    "validate_against",
]


def prepare(
    plan: str | Path | Plan,
    descriptor: str | Path | Mapping[str, Any],
    *,
    journal: str | Path | Journal | None = None,
    backend: str | None = None,
    seed: int | None = None,
    t0: float | None = None,
) -> Runner:
    """Load, validate against the cluster, resolve and bind: a Runner ready to start.

    Raises PlanError, DescriptorError or BackendError before anything touches the cluster.
    """
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    if not isinstance(descriptor, Mapping):
        descriptor = load_descriptor(descriptor)
    nodes = [n["name"] for n in descriptor["nodes"]]
    timeline = resolve(plan, nodes, seed=seed, layout=Layout.of(descriptor.get("topology")))
    if journal is not None and not isinstance(journal, Journal):
        journal = Journal(journal)
    return Runner(timeline, descriptor, backend=backend, journal=journal, t0=t0)
