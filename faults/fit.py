"""Before a run: which backend it will use, and which of the plan's faults that backend cannot
apply to this network — said once, at the start, and then done exactly as said.

The Locust suite prints ``Fit.lines()`` before the load starts and hands ``Fit.backend`` to the
runner, so the console and the run never disagree. A fault the backend cannot apply (it needs
peerload's node /admin API on a network that does not serve it, or a backend other than the
run's: bandwidth needs netns, or a cluster it cannot act on: disk_full needs data dirs on small
disks of their own) is still executed and journaled: each of its steps fails at once, without
touching the network (``NoAdminApi``, ``WrongBackend``, ``NotApplied``), and the report judges its
window insufficient and the run INCONCLUSIVE (reports.faultsteps), never NOT READY.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .backends import BackendChoice, choose_backend
from .backends.control import admin_api_missing
from .kinds import REGISTRY
from .timeline import Timeline
from .types import START


@dataclass(frozen=True)
class Fit:
    """The backend a run uses, and the faults (``key (kind)``) it cannot apply here, and why."""

    backend: BackendChoice
    not_applied: tuple[str, ...] = ()
    why: str = ""

    def lines(self) -> list[str]:
        """The console lines: the backend and why; a warning naming what will not be applied."""
        out = [f"faults: {self.backend.name} backend, {self.backend.why}"]
        if self.not_applied:
            count = len(self.not_applied)
            out.append(
                f"faults: WARNING: {count} fault{'s' if count > 1 else ''} will not be applied "
                f"to this network: {', '.join(self.not_applied)}: {self.why}; the run goes on "
                "and ends INCONCLUSIVE (a fault that never happened is not the network's failure)"
            )
        return out


def fit_for(timeline: Timeline, descriptor: Mapping[str, Any], choice: str | None = None) -> Fit:
    """Choose the backend for ``choice`` (default: the plan's) and find the faults it cannot
    apply to the network of ``descriptor``. BackendError if the choice cannot work here."""
    chosen = choose_backend(choice or timeline.backend, descriptor)
    missing = admin_api_missing(descriptor)
    starts = [s for s in timeline.steps if s.phase == START]
    admin = [
        s for s in starts if missing and REGISTRY[s.kind].needs_admin_api(chosen.name, descriptor)
    ]
    unfit = {
        s.kind: why
        for s in starts
        if (
            why := REGISTRY[s.kind].unfit(descriptor, chosen.name)
            or REGISTRY[s.kind].wrong_backend(chosen.name)
        )
    }
    steps = [s for s in starts if s in admin or s.kind in unfit]
    if not steps:
        return Fit(chosen)
    reasons = []
    if admin:
        kinds = sorted({s.kind for s in admin})
        need = "needs" if len(kinds) == 1 else "need"
        reasons.append(
            f"{missing}, which {' and '.join(kinds)} {need} with the {chosen.name} backend"
        )
    reasons += [f"{kind}: {why}" for kind, why in sorted(unfit.items())]
    return Fit(chosen, tuple(f"{s.key} ({s.kind})" for s in steps), "; ".join(reasons))
