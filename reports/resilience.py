"""Fault criteria: the network keeps serving, notices the failure, and comes back in time.

For every fault window that takes a node out of service (the fault kind says so: ``takes_down``
on the window, carried from the fault journal):

- **single_node_failure** — searches keep succeeding (clients fail over to the others);
- **failure_detection** — every survivor stopped routing queries to the target (marked it dead,
  not merely suspect; for a partition, both ends of the cut links the nodes hold) within
  ``detect_s`` (``None``: the time is not gated, but a fault never detected inside its window
  still fails).

And for every fault window, whatever it did:

- **recovery** — from the heal to N/N alive within ``recovery_s``;
- **service_recovery** — from the heal to search success back at the baseline's within
  ``recovery_s``.

A fault whose steps failed, or were not applied to this network (reports.faultsteps), did not
happen as planned: its rows are insufficient and name the step and its error, never a pass and
never a fail (the harness row ``faults_applied`` makes such a run INCONCLUSIVE).
"""

from __future__ import annotations

from reports.evidence import FAULT, Evidence, Window
from reports.faultsteps import failed_steps, of_fault, summary
from reports.rows import FAIL, PASS, PCT, RESILIENCE, SECONDS, Check, Result, fmt
from reports.samples import errors_text, select, success_rate
from reports.series import FaultTiming, fault_timings
from reports.thresholds import Thresholds

#: Plan targets that name a group rather than one node (resolved windows should not carry them).
GROUP_TARGETS = frozenset({"each", "one", "minority", "halves", "all"})
#: Only for results written before windows carried ``takes_down``: the kinds that took a node
#: out of service then.
LEGACY_TAKES_DOWN = frozenset({"crash", "stop", "pause", "partition"})


def takes_down(window: Window) -> bool:
    """Whether the fault of this window takes its target out of service."""
    if "takes_down" in window:
        return bool(window["takes_down"])
    return window.get("fault_kind") in LEGACY_TAKES_DOWN


def single_node_windows(ev: Evidence) -> list[Window]:
    """Fault windows that take one named node out of service."""
    return [
        w
        for w in ev.of_kind(FAULT)
        if takes_down(w)
        and isinstance(w.get("target"), str)
        and w["target"] not in GROUP_TARGETS
        and "," not in w["target"]
    ]


def _not_applied(
    check: Check, ev: Evidence, window: str, fault_id: str | None, target: str | None
) -> Result | None:
    """The insufficient row of a fault that did not happen as planned, or None if it did."""
    failed = of_fault(failed_steps(ev.journal), fault_id, target)
    if not failed:
        return None
    return check.missing(window, f"the fault did not happen as planned: {summary(failed)}")[0]


def single_node_failure(ev: Evidence, th: Thresholds) -> list[Result]:
    """Searches keep succeeding (failing over to 2 of 3 nodes) during each single-node fault."""
    check = Check(
        "single_node_failure", ">", th.failover_pct, PCT, th.min_samples, family=RESILIENCE
    )
    windows = single_node_windows(ev)
    if not windows:
        return check.missing("faults", "no single-node fault windows")
    out = []
    for w in windows:
        if skipped := _not_applied(check, ev, w["name"], w.get("fault_id"), w["target"]):
            out.append(skipped)
            continue
        searches = select(ev.in_window(w), op="search")
        overlaps = ", ".join(o["name"] for o in ev.overlapping(w, FAULT))
        notes = [f"{w.get('fault_kind')} {w['target']}", errors_text(searches)]
        notes.append(f"overlaps {overlaps}" if overlaps else "")
        detail = "; ".join(filter(None, notes))
        out.append(check.on(w["name"], success_rate(searches), len(searches), detail))
    return out


def _timed(name: str, limit: float | None, expect: str) -> Check:
    goal = expect + ("" if limit is None else f" in <= {limit:g} s")
    return Check(name, "<=", limit, SECONDS, 1, goal, RESILIENCE)


def _judged(check: Check, ft: FaultTiming, seconds: float, n: int, detail: str) -> Result:
    late = check.threshold is not None and not seconds <= check.threshold
    return check.result(ft.window, seconds, FAIL if late else PASS, n, detail)


def failure_detection(ev: Evidence, th: Thresholds) -> list[Result]:
    """Every survivor marked the target dead (both sides, for a partition) in time."""
    check = _timed("failure_detection", th.detect_s, "target marked dead by every survivor")
    if ev.lacks("peers"):
        why = "it does not show a node's view of its peers"
        if not ev.lacks("members"):
            why = "its nodes list their peers without saying whether they are alive"
        return check.not_measurable("faults", why)
    down = {w["name"] for w in ev.of_kind(FAULT) if takes_down(w)}
    timings = [ft for ft in fault_timings(ev) if ft.window in down]
    if not timings:
        return check.missing("faults", "no fault windows that take a node down")
    out = []
    for ft in timings:
        if skipped := _not_applied(check, ev, ft.window, ft.fault_id, ft.target):
            out.append(skipped)
        elif not ft.detection_measured:
            out.append(check.missing(ft.window, "not measured: no view of the peers' states")[0])
        elif ft.detected_s is None:
            span = fmt(ft.end - ft.start, SECONDS)
            out.append(check.result(ft.window, None, FAIL, 1, f"never detected in {span}"))
        else:
            detail = (
                f"{ft.kind} {ft.target}: dead on every survivor after {fmt(ft.detected_s, 's')}"
            )
            out.append(_judged(check, ft, ft.detected_s, 1, detail))
    return out


def recovery(ev: Evidence, th: Thresholds) -> list[Result]:
    """After each fault the cluster is back to N/N alive, automatically and in time.

    ``n`` is the number of monitor rows looked at after the heal; ``min_samples`` does not apply.
    """
    check = _timed("recovery", th.recovery_s, "N/N alive")
    timings = fault_timings(ev)
    if not timings:
        return check.missing("faults", "no fault windows")
    out = []
    for ft in timings:
        since = f"after {', '.join(ft.enclosed_by)} ended; " if ft.enclosed_by else ""
        if skipped := _not_applied(check, ev, ft.window, ft.fault_id, ft.target):
            out.append(skipped)
        elif ft.recovered is None:
            out.append(check.missing(ft.window, "no monitor rows or fault result after heal")[0])
        elif not ft.recovered:
            out.append(_not_back(check, ft, th, since))
        elif ft.recovered_s is None:
            out.append(check.missing(ft.window, f"{since}recovered, time not measured")[0])
        else:
            detail = f"{since}N/N alive after {fmt(ft.recovered_s, SECONDS)} ({ft.source})"
            out.append(_judged(check, ft, ft.recovered_s, ft.rows, detail))
    return out


def _not_back(check: Check, ft: FaultTiming, th: Thresholds, since: str) -> Result:
    """A fault the network did not recover from while it was watched: a fail, unless the watch
    was too short for this gate (a re-render with a looser one, or a stopped run cut it short)."""
    if ft.watched_s is None:
        return check.result(ft.window, None, FAIL, ft.rows, f"{since}never back to N/N")
    watched, need = fmt(ft.watched_s, SECONDS), fmt(th.recovery_evidence_s(), SECONDS)
    if ft.watched_s < th.recovery_evidence_s():
        detail = f"{since}watched {watched} after the heal, too short to tell (needs {need})"
        return check.missing(ft.window, detail)[0]
    return check.result(ft.window, None, FAIL, ft.rows, f"{since}not N/N in {watched}")


def service_recovery(ev: Evidence, th: Thresholds) -> list[Result]:
    """After each heal, search success (and p95) back to the last level's in time."""
    check = _timed("service_recovery", th.recovery_s, "searches back to baseline")
    timings = [ft for ft in fault_timings(ev) if ft.service_measured]
    if not timings:
        return check.missing("faults", "no fault with a baseline to recover to")
    out = []
    for ft in timings:
        if skipped := _not_applied(check, ev, ft.window, ft.fault_id, ft.target):
            out.append(skipped)
        elif ft.service_s is None:
            out.append(check.result(ft.window, None, FAIL, 1, "never back to baseline in the run"))
        else:
            detail = f"back to baseline after {fmt(ft.service_s, SECONDS)}"
            out.append(_judged(check, ft, ft.service_s, 1, detail))
    return out


CRITERIA = (single_node_failure, failure_detection, recovery, service_recovery)
