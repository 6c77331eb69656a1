"""Fault steps that did not do what the plan asked, read from the fault journal in one place.

A step whose journal outcome is ``error`` failed, or was never applied because the backend
cannot apply it to this network (faults/fit.py says so at the start of the run). Either way the
fault window it opened or closed did not show the fault the plan describes: the harness row
``faults_applied`` fails on it (the run is INCONCLUSIVE: it proves nothing about that fault),
and the resilience rows of its window are insufficient — a network is never judged, pass or
fail, on a fault it never had.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: ``faults.journal``'s record kind and outcome (reports never import the fault controller).
STEP, ERROR = "step", "error"
PHASES = ("start", "end")
#: Failures named in a row's detail before the rest are counted.
SHOWN = 3


@dataclass(frozen=True)
class FailedStep:
    """One journal step whose outcome was an error."""

    fault_id: str
    target: str
    phase: str
    error: str
    reason: str = ""
    """Why a heal ran off schedule (``final heal (completed)``, ``healed by hand``), if it did."""

    @property
    def key(self) -> str:
        """The fault instance, as windows and the journal name it: ``fault_id:target``."""
        return f"{self.fault_id}:{self.target}"

    @property
    def when(self) -> str:
        """The phase, with the reason of a heal off schedule."""
        return f"{self.phase} ({self.reason})" if self.reason else self.phase


def journal_steps(journal: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The applied steps (one per start and per end) of a journal, other records left out."""
    return [r for r in journal if r.get("record", STEP) == STEP and r.get("phase") in PHASES]


def failed_steps(journal: Iterable[dict[str, Any]]) -> list[FailedStep]:
    """Every step of the journal that failed or was not applied, in journal order."""
    return [
        FailedStep(
            str(r.get("fault_id")),
            str(r.get("target")),
            str(r.get("phase")),
            str(r.get("error") or "failed"),
            str((r.get("detail") or {}).get("reason") or ""),
        )
        for r in journal_steps(journal)
        if r.get("outcome") == ERROR
    ]


def of_fault(failed: list[FailedStep], fault_id: Any, target: Any) -> list[FailedStep]:
    """The failed steps of one fault instance (a fault window's ``fault_id`` and ``target``)."""
    return [f for f in failed if (f.fault_id, f.target) == (str(fault_id), str(target))]


def summary(failed: list[FailedStep]) -> str:
    """One line naming each failed step and its error; the phases of one fault that failed
    with the same error are named together (``isolate:n3 start, end: HttpError: …``)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for f in failed:
        grouped.setdefault((f.key, f.error), []).append(f.when)
    parts = [f"{key} {', '.join(whens)}: {error}" for (key, error), whens in grouped.items()]
    more = f"; +{len(parts) - SHOWN} more" if len(parts) > SHOWN else ""
    return "; ".join(parts[:SHOWN]) + more
