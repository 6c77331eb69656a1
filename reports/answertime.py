"""``answer_time``: a search answer's own account of how long it took, against the client's.

An operator reads a node's own timings (its answers, its logs, its metrics) to find where time
goes; a node whose account is wrong sends them the wrong way while every answer is right. The
client measured each search from outside (``latency_ms``); the node's ``elapsed_ms`` must fit
in it (it cannot have worked longer than the client waited, ``CLOCK_SLACK_MS`` aside), and an
answer that went to other nodes (``messages`` > 0) cannot have taken no time at all.
"""

from __future__ import annotations

from reports.breakdown import WHOLE_RUN
from reports.evidence import Evidence
from reports.rows import CORRECTNESS, COUNT, REPORTED, Check, Result
from reports.samples import Sample
from reports.thresholds import Thresholds

#: The node's and the client's clocks read at different moments: this much over is not wrong.
CLOCK_SLACK_MS = 1.0


def says_time(sample: Sample) -> bool:
    """A search answer that says how long it took."""
    said = sample.get("elapsed_ms")
    return sample.get("op") == "search" and bool(sample.get("ok")) and type(said) in (int, float)


def wrong_time(sample: Sample) -> bool:
    """Longer than the client waited, or no time at all for an answer other nodes gave to."""
    said, waited = sample["elapsed_ms"], float(sample["latency_ms"])
    flooded = isinstance(sample.get("messages"), int) and sample["messages"] > 0
    return said < 0 or said > waited + CLOCK_SLACK_MS or (flooded and said <= 0)


def answer_time(ev: Evidence, th: Thresholds) -> list[Result]:
    check = Check("answer_time", "<=", 0, COUNT, 1, "none", CORRECTNESS)
    said = [s for s in ev.samples if says_time(s)]
    if not said:
        why = "not measurable on this network: its answers do not say how long they took"
        return [check.result(WHOLE_RUN, None, REPORTED, 0, why)]
    wrong = [s for s in said if wrong_time(s)]
    detail = f"{len(wrong)} of {len(said)} answers' own time outside the client's"
    if wrong:
        first = wrong[0]
        detail += (
            f" (first: {first['node']} said {first['elapsed_ms']:g} ms, the client waited "
            f"{float(first['latency_ms']):g} ms, {first.get('messages')} messages)"
        )
    return [check.on(WHOLE_RUN, float(len(wrong)), len(said), detail)]


CRITERIA = (answer_time,)
