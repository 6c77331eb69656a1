"""Crashes the node logs tell of (networks/crashes.py) and the ``node_crashes`` criterion
(reports/crashes.py): each crash counted once however long its stack, judged at zero
tolerance; a run that read no log says so, never a pass. On real nodes: ours logs none, ours
whose gossip loop raises is caught in its log."""

from __future__ import annotations

import time

import pytest

from networks.crashes import MAX_EVENTS_PER_NODE, scan, scan_logs, scan_text
from reports.crashes import node_crashes
from reports.evidence import Evidence
from reports.rows import FAIL, PASS, REPORTED
from reports.thresholds import Thresholds
from tests.patched import patched_definition, two_nodes

CHAINED = """\
12:00:01 INFO node n2 up
12:00:02 ERROR membership work _gossip failed once
Traceback (most recent call last):
  File "node/detector.py", line 120, in _safely
    work()
KeyError: 'n9'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "node/detector.py", line 122, in _safely
TypeError: unsupported operand type(s) for <<: 'float' and 'int'
12:00:03 INFO still serving
"""
GO_PANIC = "listening on :7000\npanic: runtime error: index out of range [3]\n\ngoroutine 1\n"


def test_a_stack_is_one_crash_and_says_what_went_wrong_and_after_what():
    count, events = scan_text("n2", CHAINED)
    assert count == 1
    assert events[0] | {"excerpt": None} == {
        "node": "n2",
        "line": 3,
        "before": "12:00:02 ERROR membership work _gossip failed once",
        "error": "KeyError: 'n9'",
        "excerpt": None,
    }
    assert events[0]["excerpt"][0] == "Traceback (most recent call last):"
    assert scan_text("n2", CHAINED + CHAINED)[0] == 2
    assert (
        scan_text("n1", GO_PANIC)[1][0]["error"] == "panic: runtime error: index out of range [3]"
    )
    assert scan_text("n1", "12:00:01 INFO search alpha: 3 hits\n") == (0, [])


def test_every_crash_is_counted_and_a_few_kept_with_their_words():
    read = scan({"n1": (CHAINED * 9).encode(), "n2": b"quiet\n"})
    assert read["nodes"] == ["n1", "n2"] and read["counts"] == {"n1": 9, "n2": 0}
    assert len(read["events"]) == MAX_EVENTS_PER_NODE


def judged(crashes, **thresholds):
    return node_crashes(Evidence(crashes=crashes), Thresholds(**thresholds))[0]


def test_node_crashes_is_judged_at_zero_and_a_run_that_read_no_log_says_so():
    clean = scan({"n1": b"quiet\n", "n2": b"quiet\n"})
    row = judged(clean)
    assert (row.verdict, row.value, row.n) == (PASS, 0.0, 2)
    assert row.detail == "none in the logs of 2 node(s)"
    crashed = scan({"n1": b"quiet\n", "n2": CHAINED.encode()})
    row = judged(crashed)
    assert (row.verdict, row.value) == (FAIL, 1.0)
    assert row.detail.startswith("n2: 1; n2 log line 3: KeyError: 'n9' (after: 12:00:02 ERROR")
    assert judged(crashed, crashes_max=1).verdict == PASS
    assert judged(None).verdict == REPORTED and "no node log was read" in judged(None).detail


#: node/detector.py's gossip round raises every time (a loop that dies, or keeps failing).
GOSSIP_RAISES = "import node.detector as d; d.Detector._gossip = lambda self: 1 / 0"


@pytest.mark.integration
@pytest.mark.parametrize(("network", "crashed"), [("builtin", False), ("gossip-raises", True)])
def test_a_node_whose_gossip_raises_is_caught_in_its_log(tmp_path, network, crashed):
    if crashed:
        network = patched_definition(tmp_path, network, GOSSIP_RAISES)
    with two_nodes(network, tmp_path) as (launcher, _, nodes):
        time.sleep(1.5)  # a few gossip rounds
        read = scan_logs(launcher.collect_logs(), [n.name for n in nodes])
    assert read["nodes"] == ["n1", "n2"]
    if not crashed:
        assert read["counts"] == {"n1": 0, "n2": 0}
        return
    assert all(count >= 1 for count in read["counts"].values()), read["counts"]
    first = read["events"][0]
    assert first["error"] == "ZeroDivisionError: division by zero"
    assert "membership work <lambda> failed once" in first["before"]
