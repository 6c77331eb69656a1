"""``node_crashes``: what the node logs told of crashes (networks/crashes.py), at zero tolerance.

A loop of a node that died on an exception nobody expected (its gossip, its re-indexing, a
timer) may leave every answer right for the length of a test: no success rate sees it, the
node's own log says it. Counted over the whole run, every node whose log was read; a run whose
nodes it did not start (given by URL) read no log: the row says so, reported, never a pass.
"""

from __future__ import annotations

from reports.breakdown import WHOLE_RUN
from reports.evidence import Evidence
from reports.rows import CORRECTNESS, COUNT, FAIL, PASS, REPORTED, Check, Result
from reports.thresholds import Thresholds

#: Crashes spelt out in the row's detail (all are counted; the JSON keeps a few per node).
DETAIL_CRASHES = 3


def node_crashes(ev: Evidence, th: Thresholds) -> list[Result]:
    check = Check("node_crashes", "<=", th.crashes_max, COUNT, 1, "none", CORRECTNESS)
    read = ev.crashes
    if not isinstance(read, dict) or not read.get("nodes"):
        why = "no node log was read (the run did not start the nodes)"
        return [check.result(WHOLE_RUN, None, REPORTED, 0, why)]
    counts = {str(n): int(c) for n, c in (read.get("counts") or {}).items()}
    total, nodes = sum(counts.values()), len(read["nodes"])
    if not total:
        detail = f"none in the logs of {nodes} node(s)"
    else:
        said = [_said(e) for e in (read.get("events") or [])[:DETAIL_CRASHES]]
        per = ", ".join(f"{n}: {c}" for n, c in sorted(counts.items()) if c)
        detail = f"{per}; " + "; ".join(said)
    verdict = PASS if total <= th.crashes_max else FAIL
    return [check.result(WHOLE_RUN, float(total), verdict, nodes, detail)]


def _said(event: dict) -> str:
    where = f"{event.get('node')} log line {event.get('line')}"
    after = f" (after: {event['before']})" if event.get("before") else ""
    return f"{where}: {event.get('error')}{after}"


CRITERIA = (node_crashes,)
