"""The verdict so far: a run still going, judged on the windows that have ended.

The web UI shows it while a run is on. Judging a run in its middle as if it had ended would call
every healthy run NOT READY: the integrity check, the final verification and the fault stage's
probes are recorded only when it ends, the best level and the stress ramp have not come yet, the
window running now is thin. So only windows that have ended are judged, with the samples,
monitor rows and journal steps up to the latest end among them. A row whose evidence is still
to come (``criteria.WAITS_FOR``) is shown as "to come" and never blocks; a row about one ended
window is final for it, and so is a wrong answer seen (a count only grows). The reason names
what is still to come::

    So far READY on 4 of 9 windows: all 52 gated checks passed; still to come: fault:crash-one:n2,
    fault:pause-one:n1, fault:isolate-one:n3, stress, after run

A fault and the recovery window after it count as one window; the stress steps still to come as
one ("stress": how many the ramp takes is not known ahead).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from reports.criteria import AFTER_RUN, BEST_OF, WAITS_FOR, evaluate
from reports.evidence import FAULT, FAULT_STAGE, LOAD_KINDS, RECOVERY, STRESS, Evidence, Window
from reports.normalize import normalize_run
from reports.rows import CORRECTNESS, FAIL, PASS, Result
from reports.thresholds import Thresholds
from reports.verdict import READY, Verdict, decide

#: A row's verdict while its evidence is still to come: shown, never blocking.
TO_COME = "to come"
#: Windows of this kind are parts of the run's stages, not windows of their own here.
NOT_A_UNIT = (FAULT_STAGE,)
#: Where a window's name and an operation meet in a row's window (``level-25 · search``).
OP_SEPARATOR = " · "


@dataclass(frozen=True)
class SoFar:
    """The verdict over the windows that have ended, and what is still to come."""

    verdict: Verdict
    ended: tuple[str, ...]
    to_come: tuple[str, ...]

    @property
    def reason(self) -> str:
        """One line for the web UI: the verdict so far, on how many windows, what is to come."""
        come = f"; still to come: {', '.join(self.to_come)}" if self.to_come else ""
        if not self.ended and self.verdict.label == READY:
            return f"So far nothing judged: no window has ended yet{come}"
        total = len(self.ended) + len(self.to_come)
        why = self.verdict.reason.partition(": ")[2]
        head = f"So far {self.verdict.label} on {len(self.ended)} of {total} windows"
        return f"{head}: {why}{come}"


def _ended(window: Window, now: float) -> bool:
    return window.get("end") is not None and window["end"] <= now


def _unit(window: Window) -> str | None:
    """The window a reader counts: a recovery window is part of its fault's; stress steps still
    to come are one."""
    kind, name = window.get("kind"), window["name"]
    if kind in NOT_A_UNIT:
        return None
    if kind == RECOVERY:
        return f"fault:{name.split(':', 1)[-1]}"
    return name


def _later(windows: list[Window], planned: list[Window], now: float) -> list[Window]:
    """Windows still open, then those planned and not yet begun."""
    seen = {w["name"] for w in windows}
    begun = [w for w in windows if not _ended(w, now)]
    return begun + [w for w in planned if w["name"] not in seen]


def judged(windows: list[Window], planned: list[Window], now: float) -> list[Window]:
    """The windows judged so far: ended, and so has the rest of their unit (a fault's recovery)."""
    waiting = {_unit(w) for w in _later(windows, planned, now)}
    return [w for w in windows if _ended(w, now) and (_unit(w) is None or _unit(w) not in waiting)]


def units(
    windows: list[Window], planned: list[Window], now: float
) -> tuple[list[str], list[str], set[str]]:
    """Windows that have ended and those still to come (open, or planned and not yet begun),
    as ``(ended, to_come, kinds_to_come)``; AFTER_RUN always comes last."""
    later = _later(windows, planned, now)
    ended = [u for w in judged(windows, planned, now) if (u := _unit(w))]
    to_come: list[str] = []
    for w in later:
        name = STRESS if w.get("kind") == STRESS else _unit(w)
        if name and name not in to_come:
            to_come.append(name)
    kinds = {w.get("kind") for w in later} | {AFTER_RUN}
    if kinds & {FAULT_STAGE, FAULT}:  # the fault stage brings its faults, a fault its recovery
        kinds |= {FAULT, RECOVERY}
    return list(dict.fromkeys(ended)), [*to_come, AFTER_RUN], kinds


def _before(items: list[Any], key: str, cut: float | None) -> list[Any]:
    """Entries of a list whose ``key`` is a time before ``cut`` (none when nothing has ended)."""
    if cut is None:
        return []
    return [
        x
        for x in items
        if isinstance(x, dict) and isinstance(x.get(key), int | float) and x[key] < cut
    ]


def so_far(row: Result, ended: set[str], kinds: set[str]) -> Result:
    """The row as the run so far shows it: as judged, or "to come" while its evidence is."""
    waits = WAITS_FOR.get(row.name, LOAD_KINDS)
    if AFTER_RUN in waits:
        return _to_come(row, "recorded when the run ends")
    one_window = row.window.split(OP_SEPARATOR)[0] in ended and row.name not in BEST_OF
    if one_window or row.verdict == PASS or (row.verdict == FAIL and row.family == CORRECTNESS):
        return row
    coming = [k for k in waits if k in kinds]
    return _to_come(row, f"{', '.join(coming)} windows still to come") if coming else row


def _to_come(row: Result, why: str) -> Result:
    return replace(row, verdict=TO_COME, detail="; ".join(filter(None, (why, row.detail))))


def judge_so_far(run: dict[str, Any], planned: Iterable[Window], now: float) -> SoFar:
    """Judge a run still going (a ``run`` dict as ``reports.build`` takes it, its open windows
    with ``end`` None or later than ``now``) on its ended windows. ``planned``: windows the run
    still means to open (``name`` and ``kind`` suffice). Raises ``ValueError`` on bad input."""
    windows = [w for w in run.get("windows") or [] if isinstance(w, dict) and "name" in w]
    planned = list(planned)
    closed = judged(windows, planned, now)
    cut = max((w["end"] for w in closed), default=None)
    record = {
        **run,
        "windows": closed,
        "samples": _before(run.get("samples") or [], "t", cut),
        "series": _before(run.get("series") or [], "t", cut),
        "journal": _before(run.get("journal") or [], "wall", cut),
    }
    record = normalize_run(record)
    thresholds = Thresholds.from_dict(record.get("thresholds"))
    ended, to_come, kinds = units(windows, planned, now)
    names = {w["name"] for w in closed}
    rows = [so_far(r, names, kinds) for r in evaluate(Evidence.from_run(record), thresholds)]
    return SoFar(decide(rows, thresholds), tuple(ended), tuple(to_come))
