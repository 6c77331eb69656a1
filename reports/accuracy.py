"""The failure detector's accuracy: a node that is up and reachable is never declared dead.

``failure_detection`` (reports.resilience) judges completeness: a node that fails is noticed in
time. This is the other half of a failure detector's contract (Chandra and Toueg's accuracy,
SWIM's false positives): in the windows where no fault is active or just healed (the idle
window and the load levels, the model's fault windows and their slack left out), every node's
view of its peers, as the monitor read it, must not say ``dead`` of a peer that was up. While a
fault is active or healing, the same holds between the nodes it left alone: the views by and of
the nodes it may have put out of reach (down, frozen, cut off, behind lossy links) are left
out, but not those of the two ends of one cut link (the ``link`` kind), which every node still
reaches around it — SWIM's indirect probes exist for that case. A node
declared dead by mistake is dropped from floods and from downloads until it refutes, and a
detector that accuses live peers under load turns load into churn. Suspicion is counted in the
detail, not judged: SWIM suspects before it accuses, and refutation is its remedy. The stress
steps are reported apart: past the breaking point an overloaded peer may well look dead.

Views that only list peers without saying whether they are alive (the ``members`` capability)
cannot tell a dead peer from one that is not a neighbour: not measurable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from reports.checker import check as checked
from reports.evidence import FAULT, STEADY_KINDS, STRESS, Evidence
from reports.model import Model
from reports.resources import IDLE
from reports.rows import COUNT, REPORTED, RESILIENCE, Check, Result
from reports.thresholds import Thresholds

NAME = "false_deaths"
#: The windows judged (no users, then the steady levels) and the ones reported.
QUIET_KINDS = (IDLE, *STEADY_KINDS)
QUIET, DURING_FAULTS, UNDER_STRESS = "idle and levels", "during faults", "stress"
DEAD, SUSPECT = "dead", "suspect"
#: Accusations named in a row's detail, at most.
NAMED = 3
_NO_ROWS = {
    QUIET: "no monitor row with views away from faults (after a fault the network never "
    "recovered from, the model knows nothing)",
    DURING_FAULTS: "no monitor row with views while a fault was active or healing (or its "
    "steps failed: what it did is unknown)",
    UNDER_STRESS: "no monitor row with views in the stress steps away from faults",
}


def _rows(ev: Evidence, kinds: tuple[str, ...], model: Model | None) -> list[dict[str, Any]]:
    """Monitor rows inside a window of these kinds and away from every fault (the model's
    fault windows, their recovery and slack)."""
    spans = [(w["start"], w["end"]) for w in ev.of_kind(*kinds)]
    return [
        row
        for row in ev.series
        if isinstance(row.get("views"), dict)
        and any(a <= row["t"] < b for a, b in spans)
        and not (model is not None and model.fault_during(row["t"], row["t"]))
    ]


def _fault_rows(ev: Evidence, model: Model | None) -> list[tuple[dict[str, Any], set[str]]]:
    """Monitor rows while a fault was active or healing, outside the stress steps, each with
    the nodes left out of it (the ones a fault may have put out of reach); rows near a fault
    whose steps failed are left out whole."""
    if model is None:
        return []
    stress = [(w["start"], w["end"]) for w in ev.of_kind(STRESS)]
    out = []
    for row in ev.series:
        t = row.get("t")
        if not isinstance(row.get("views"), dict) or not model.fault_during(t, t):
            continue
        if any(a <= t < b for a, b in stress):
            continue
        away = model.out_of_reach(t, t)
        if away is not None:
            out.append((row, away))
    return out


def _sightings(ev: Evidence, model: Model | None, nodes: set[str]) -> tuple[int, Counter, list]:
    """What the fault stage polled from the two ends of a cut link while it lasted
    (locustfiles/reachwatch.py), as ``_accusations`` counts it: views read, states said, and
    the dead ones; sightings near a fault whose steps failed, or of a node out of reach (another
    fault), are left out."""
    views, states, dead = 0, Counter(), []
    if model is None:
        return views, states, dead
    for result in ev.fault_results:
        views += int(result.get("views_read") or 0)
        for sighting in result.get("sightings") or ():
            if not (isinstance(sighting, list) and len(sighting) == 4):
                continue
            t, by, of, state = sighting
            away = model.out_of_reach(t, t)
            if away is None or by in away or of in away or (nodes and of not in nodes):
                continue
            states[state] += 1
            if state == DEAD:
                dead.append((t, by, of))
    return views, states, dead


def _accusations(
    rows: Iterable[tuple[dict[str, Any], set[str]]], nodes: set[str]
) -> tuple[int, Counter, list]:
    """Views read, states said of the network's nodes (``dead``, ``suspect``; any peer named
    when ``nodes`` is empty) and the dead ones as (time, accuser, accused); each row comes with
    the nodes whose views, and views of whom, are left out."""
    views, states, dead = 0, Counter(), []
    for row, away in rows:
        for accuser, view in row["views"].items():
            if accuser in away:
                continue
            views += 1
            for peer, state in (view or {}).items():
                if peer in away:
                    continue
                if (peer in nodes or not nodes) and peer != accuser and state in (DEAD, SUSPECT):
                    states[state] += 1
                    if state == DEAD:
                        dead.append((row["t"], accuser, peer))
    return views, states, dead


def false_deaths(ev: Evidence, th: Thresholds) -> list[Result]:
    """Peers up and unfaulted that a node's view says are dead, in the quiet windows (judged)
    and the stress steps (reported); ``n``: the views read."""
    check = Check(
        NAME,
        "<=",
        th.false_deaths_max,
        COUNT,
        th.min_samples,
        expect=f"at most {th.false_deaths_max:g} live, reachable peers seen dead",
        family=RESILIENCE,
    )
    if ev.lacks("peers"):
        why = "it does not show a node's view of its peers"
        if not ev.lacks("members"):
            why = "its nodes list their peers without saying whether they are alive"
        return check.not_measurable(QUIET, why)
    model = checked(ev).model
    nodes = set(model.nodes) if model is not None else set()
    t0 = ev.t0
    out = []
    judged = {
        QUIET: [(row, set()) for row in _rows(ev, QUIET_KINDS, model)],
        DURING_FAULTS: _fault_rows(ev, model),
        UNDER_STRESS: [(row, set()) for row in _rows(ev, (STRESS,), model)],
    }
    for label, rows in judged.items():
        if label == UNDER_STRESS and not ev.of_kind(STRESS):
            continue  # a run without stress steps (or cut short) has nothing to report there
        if label == DURING_FAULTS and not ev.of_kind(FAULT):
            continue  # ... nor one without faults
        views, states, dead = _accusations(rows, nodes)
        polled = 0
        if label == DURING_FAULTS:
            polled, more_states, more_dead = _sightings(ev, model, nodes)
            views, states, dead = views + polled, states + more_states, sorted(dead + more_dead)
        named = ", ".join(f"{a} saw {b} dead at {t - t0:.0f} s" for t, a, b in dead[:NAMED])
        more = f" and {len(dead) - NAMED} more" if len(dead) > NAMED else ""
        detail = "; ".join(
            x
            for x in (
                f"{views} views in {len(rows)} monitor rows" if rows else _NO_ROWS[label],
                f"{polled} of them polled from the ends of a cut link" if polled else "",
                f"{states[SUSPECT]} suspicions (not judged)" if states[SUSPECT] else "",
                named + more,
            )
            if x
        )
        value = float(len(dead)) if rows or polled else None
        if label == UNDER_STRESS:
            out.append(check.result(label, value, REPORTED, views, detail))
        else:
            out.append(check.on(label, value, views, detail))
    return out


CRITERIA = (false_deaths,)
