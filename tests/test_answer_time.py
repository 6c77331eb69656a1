"""``answer_time`` (reports/answertime.py): a search answer's own elapsed_ms against the time
the client waited for it. On a real node: ours says a time that fits in the client's."""

from __future__ import annotations

import time

import pytest

from reports.answertime import CLOCK_SLACK_MS, answer_time
from reports.evidence import Evidence
from reports.rows import FAIL, PASS, REPORTED
from reports.thresholds import Thresholds
from tests.fixtures import req
from tests.patched import two_nodes


def said(elapsed, latency=20.0, messages=4) -> dict:
    return {**req(1.0, lat=latency, messages=messages), "elapsed_ms": elapsed}


def row(*samples):
    return answer_time(Evidence(samples=list(samples)), Thresholds())[0]


def test_an_answer_whose_own_time_fits_in_the_clients_passes():
    r = row(said(12.5), said(20.0 + CLOCK_SLACK_MS), said(0.0, messages=0))
    assert (r.verdict, r.value, r.n) == (PASS, 0.0, 3)
    assert r.detail == "0 of 3 answers' own time outside the client's"


def test_longer_than_the_client_waited_or_no_time_for_a_flood_fails():
    r = row(said(12.5), said(25.0), said(0.0))
    assert (r.verdict, r.value) == (FAIL, 2.0)
    assert "(first: n1 said 25 ms, the client waited 20 ms, 4 messages)" in r.detail


def test_a_network_whose_answers_say_no_time_is_not_measurable():
    r = row(req(1.0, lat=20.0, messages=4))
    assert r.verdict == REPORTED and "do not say how long they took" in r.detail


@pytest.mark.integration
def test_our_node_says_how_long_a_search_took(tmp_path):
    with two_nodes("builtin", tmp_path) as (_, net, nodes):
        started = time.monotonic()
        answer = net.search(nodes[0], nodes[1].files[0]["name"], 2)
        waited_ms = (time.monotonic() - started) * 1000
    assert answer.messages and 0 < answer.elapsed_ms <= waited_ms
