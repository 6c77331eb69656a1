"""reports.correctness: wrong answers and lost or corrupt data, counted at zero tolerance."""

from __future__ import annotations

import networkx as nx
import pytest

from reports.checker import flood_bound, full_flood_bound, hides_silent_peers
from reports.correctness import (
    acked_searchable,
    acked_writes,
    corrupt_data,
    final_verification,
    flood_cost,
    initial_verification,
    rogue_peer,
)
from reports.evidence import Evidence
from reports.integrity import observation, summary
from reports.rows import CORRECTNESS, FAIL, INSUFFICIENT, PASS, REPORTED
from reports.thresholds import Thresholds
from tests.fixtures import only, req, spread, status

TH = Thresholds()

# criterion, its threshold, the violation it counts, the sample fields of the population
VIOLATIONS = [
    pytest.param(corrupt_data, "corrupt_max", "corrupt", {"op": "download"}, id="corrupt"),
    pytest.param(
        corrupt_data, "corrupt_max", "corrupt", {"op": "node_download"}, id="corrupt-pull"
    ),
]


def judged(criterion, samples, th: Thresholds = TH, **run):
    return only(criterion(Evidence(samples=samples, **run), th))


def looked_at(fields: dict, bad: int = 0, good: int = 30) -> list[dict]:
    """``good`` clean samples of the population, then ``bad`` marked with a violation."""
    samples = spread(0, 10, good, **fields)
    return samples + [req(10 + i, ok=False, error=f"bad #{i}", **fields) for i in range(bad)]


def mark(samples: list[dict], violation: str) -> list[dict]:
    return [{**s, "violation": violation} if not s["ok"] else s for s in samples]


@pytest.mark.parametrize(("criterion", "limit", "violation", "fields"), VIOLATIONS)
def test_no_violation_passes(criterion, limit, violation, fields):
    r = judged(criterion, looked_at(fields))
    assert r.verdict == PASS and r.value == 0 and r.n == 30
    assert r.family == CORRECTNESS and r.goal == "<= 0"


@pytest.mark.parametrize(("criterion", "limit", "violation", "fields"), VIOLATIONS)
def test_one_violation_fails_however_many_answers_were_right(criterion, limit, violation, fields):
    r = judged(criterion, mark(looked_at(fields, bad=1, good=1000), violation))
    assert r.verdict == FAIL and r.value == 1 and r.n == 1001
    assert r.detail == "bad #0"


@pytest.mark.parametrize(("criterion", "limit", "violation", "fields"), VIOLATIONS)
def test_violations_up_to_a_configured_limit_pass(criterion, limit, violation, fields):
    samples = mark(looked_at(fields, bad=2), violation)
    assert judged(criterion, samples, TH.merged({limit: 2})).verdict == PASS
    assert judged(criterion, samples, TH.merged({limit: 1})).verdict == FAIL


@pytest.mark.parametrize(("criterion", "limit", "violation", "fields"), VIOLATIONS)
def test_nothing_to_look_at_is_insufficient(criterion, limit, violation, fields):
    other = spread(0, 10, 30, op="index")
    r = judged(criterion, mark(other, violation))
    assert r.verdict == INSUFFICIENT and r.n == 0 and "samples to check" in r.detail


def test_violations_count_only_where_they_are_looked_for():
    searches = mark(spread(0, 10, 30, n_fail=1), "corrupt")
    downloads = spread(0, 10, 30, op="download", proto="grpc")
    assert judged(corrupt_data, searches + downloads).value == 0


# -- flood cost ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "ttl", "bound"),
    [(1, 3, 0), (2, 3, 1), (3, 1, 2), (3, 2, 4), (3, 3, 6), (3, 9, 6), (4, 3, 15), (10, 2, 81)],
)
def test_full_flood_bound(nodes, ttl, bound):
    # TTL 1: the origin's copies only; TTL 2: 2E - (N - 1) = (N - 1)²; more TTL lets a node
    # forward again a copy that came a shorter way, at most N - d times.
    assert full_flood_bound(nodes, ttl) == bound


def test_flood_bound_within_the_ttl_on_a_line():
    line = nx.path_graph(["n1", "n2", "n3", "n4"])
    assert [flood_bound(line, "n1", ttl) for ttl in (0, 1, 2, 3, 4)] == [0, 1, 2, 3, 3]
    assert flood_bound(line, "n2", 2) == 2 + 1 + 0 and flood_bound(line, "nowhere", 2) == 0


def searches(*messages, ttl: int = 2) -> list[dict]:
    return [req(i, messages=m, ttl=ttl) for i, m in enumerate(messages)]


def flood(samples, th: Thresholds = TH, nodes: int = 3):
    return judged(flood_cost, samples, th, status=status(nodes=nodes))


def test_flood_at_the_bound_passes_one_message_more_fails():
    at = flood(searches(2, 4, 4))
    assert at.verdict == PASS and at.value == 0 and at.threshold == 0 and at.n == 3
    assert at.detail == "bound from the links within each query's TTL, E=3, N=3; worst 4 " \
        "messages (bound 4)"  # fmt: skip
    over = flood(searches(4, 5, 5))
    assert over.verdict == FAIL and over.value == 2 and "worst 5 messages (bound 4)" in over.detail
    assert flood(searches(6, ttl=3)).verdict == PASS  # more TTL, more copies that may go again


def test_an_answer_saying_fewer_messages_than_its_nodes_needed_fails_flood_cost():
    reached = {"node": "n1", "reached": ["n1", "n2", "n3"]}
    enough = [{**r, **reached} for r in searches(2, 3)]
    assert flood(enough).verdict == PASS
    short = flood([{**r, **reached} for r in searches(2, 1)])
    assert short.verdict == FAIL and short.value == 1
    assert "1 said fewer messages than the nodes that answered (first: 1 for 3 nodes from n1)" in (
        short.detail
    )


def test_flood_bound_follows_the_network_size():
    assert flood(searches(9), nodes=4).verdict == PASS
    assert flood(searches(10), nodes=4).verdict == FAIL


def test_flood_node_count_falls_back_to_the_config_and_the_monitor():
    by_config = Evidence(samples=searches(9), config={"nodes": 4})
    assert only(flood_cost(by_config, TH)).verdict == PASS
    by_monitor = Evidence(samples=searches(5), series=[{"t": 0, "nodes_total": 3}])
    assert only(flood_cost(by_monitor, TH)).verdict == FAIL


def test_a_configured_flood_limit_replaces_the_bound():
    r = flood(searches(6), TH.merged({"flood_messages_max": 6}))
    assert r.verdict == PASS and r.detail.startswith("bound from configured 6")
    assert flood(searches(7), TH.merged({"flood_messages_max": 6})).verdict == FAIL


def test_flood_without_message_counts_is_insufficient():
    r = flood(searches(None, None) + spread(0, 10, 30, op="index"))
    assert r.verdict == INSUFFICIENT and "message count" in r.detail
    assert flood(searches(4), nodes=0).verdict == INSUFFICIENT


# -- acknowledged writes ---------------------------------------------------------------------


def integrity(**counts) -> dict:
    return {"acked_uploads": 50, "lost": 0, "corrupt": 0, "searchable_checked": 20, **counts}


def after_run(criterion, th: Thresholds = TH, **run):
    return only(criterion(Evidence(**run), th))


def test_every_acked_write_kept_passes():
    r = after_run(acked_writes, integrity=integrity())
    assert r.verdict == PASS and r.n == 50 and r.window == "after run"
    assert r.detail == "0 lost, 0 changed"


def test_lost_and_changed_writes_add_up_and_fail():
    found = integrity(lost=1, corrupt=2, examples=["a.bin", "b.bin", "c.bin", "d.bin"])
    r = after_run(acked_writes, integrity=found)
    assert r.verdict == FAIL and r.value == 3
    assert r.detail == "1 lost, 2 changed; e.g. a.bin, b.bin, c.bin"


def test_lost_writes_up_to_the_configured_limit_pass():
    def verdict(limit: int) -> str:
        th = TH.merged({"lost_writes_max": limit})
        return after_run(acked_writes, th, integrity=integrity(lost=2)).verdict

    assert (verdict(2), verdict(1)) == (PASS, FAIL)


@pytest.mark.parametrize(
    ("run", "why"),
    [
        ({}, "integrity was not checked"),
        ({"status": status(interrupted="SIGINT")}, "not checked: the run was interrupted"),
        ({"integrity": integrity(acked_uploads=0)}, "no upload was acknowledged"),
    ],
)
def test_acked_writes_without_evidence_is_insufficient(run, why):
    r = after_run(acked_writes, **run)
    assert r.verdict == INSUFFICIENT and r.detail == why


def test_acked_uploads_found_by_search_pass_one_missing_fails():
    assert after_run(acked_searchable, integrity=integrity()).verdict == PASS
    one_missing = integrity(unsearchable=1)
    r = after_run(acked_searchable, integrity=one_missing)
    assert r.verdict == FAIL and r.n == 20 and r.detail == "1 not found"
    lenient = TH.merged({"unsearchable_max": 1})
    assert after_run(acked_searchable, lenient, integrity=one_missing).verdict == PASS


def test_acked_searchable_needs_a_checked_upload():
    r = after_run(acked_searchable, integrity=integrity(searchable_checked=0))
    assert r.verdict == INSUFFICIENT and "no upload was checked by search" in r.detail


# -- the network whole before and after ------------------------------------------------------

PROBES = [
    pytest.param(initial_verification, "initial_problems", "before run", id="initial"),
    pytest.param(final_verification, "final_problems", "after run", id="final"),
]


@pytest.mark.parametrize(("criterion", "key", "window"), PROBES)
def test_verification_without_problems_passes(criterion, key, window):
    r = after_run(criterion, status=status())
    assert r.verdict == PASS and r.window == window and r.goal == "passed"
    assert "every node up" in r.detail


@pytest.mark.parametrize(("criterion", "key", "window"), PROBES)
def test_verification_problems_fail(criterion, key, window):
    problems = ["n2: no answer on /health", "canary search from n1 did not reach n2"]
    r = after_run(criterion, status=status(**{key: problems}))
    assert r.verdict == FAIL and r.value == 2 and r.family == CORRECTNESS
    assert r.detail == "; ".join(problems)


@pytest.mark.parametrize(("criterion", "key", "window"), PROBES)
def test_verification_not_run_is_insufficient(criterion, key, window):
    assert after_run(criterion, status=status(**{key: None})).detail == "not run"
    r = after_run(criterion, status=status(**{key: None}, interrupted="SIGTERM"))
    assert r.verdict == INSUFFICIENT and r.detail == "not checked: the run was interrupted"


# -- a member that serves wrong files, at the very end --------------------------------------

REFUSED_ALL = {"outcome": "pass", "detail": "14 wrong files refused by n1, n2, none kept"}
KEPT = {"outcome": "FAIL", "detail": "2 problems in 12 fetches: n1 accepted a peer that ..."}


def test_wrong_files_from_a_peer_refused_pass_one_kept_fails():
    r = after_run(rogue_peer, status=status(rogue=REFUSED_ALL))
    assert r.verdict == PASS and r.window == "after run" and r.detail == REFUSED_ALL["detail"]
    r = after_run(rogue_peer, status=status(rogue=KEPT))
    assert r.verdict == FAIL and r.family == CORRECTNESS and r.detail == KEPT["detail"]


def test_a_rogue_member_not_run_is_insufficient_not_reached_or_lacking_is_reported():
    assert after_run(rogue_peer, status=status(rogue=None)).verdict == INSUFFICIENT
    unreached = {"outcome": "not measurable", "detail": "no node reached the rogue member"}
    r = after_run(rogue_peer, status=status(rogue=unreached))
    assert r.verdict == REPORTED and r.detail.endswith("no node reached the rogue member")
    r = after_run(rogue_peer, status=status(rogue=None, capabilities=["search"]))
    assert r.verdict == REPORTED and "cannot make a member serve wrong files" in r.detail


@pytest.mark.parametrize(
    ("messages", "reached", "partial", "hidden"),
    [
        (4, 3, False, False),  # a flood over 3 nodes with TTL 2: 2E-(N-1) = 4
        (1, 2, False, False),  # a dead peer not asked: 2 nodes, 1 message
        (3, 2, False, True),  # a third node was asked, never answered, and it is not said
        (3, 2, True, False),  # ... said: partial
        (None, 2, False, False),  # the network does not count its messages
        (4, None, False, False),  # ... or does not say who answered
    ],
)
def test_an_answer_hiding_a_silent_peer(messages, reached, partial, hidden):
    mesh = nx.complete_graph(["n1", "n2", "n3"])
    names = None if reached is None else ["n1", "n2", "n3"][:reached]
    assert hides_silent_peers(messages, names, partial, mesh, "n1", 2) is hidden


def test_a_silent_peer_is_told_by_the_links_among_those_that_answered():
    line = nx.path_graph(["n1", "n2", "n3"])  # n1 - n2 - n3: a flood over it costs 2 messages
    assert not hides_silent_peers(2, ["n1", "n2", "n3"], False, line, "n1", 2)
    assert hides_silent_peers(3, ["n1", "n2", "n3"], False, line, "n1", 2)


def test_integrity_is_judged_again_from_what_was_observed_of_each_upload():
    acked = [{"name": f"u{i}.bin", "node": "n1", "sha256": f"s{i}"} for i in range(4)]
    listing = {"u0.bin": "s0", "u1.bin": "other", "u3.bin": None}  # u2 gone, u1 changed
    found = (True, None, None, False)
    seen = [observation(a, listing, f) for a, f in zip(acked, found, strict=True)]
    # The counts recorded with the observations say nothing went wrong: they are not read.
    recorded = {"acked_uploads": 4, "lost": 0, "corrupt": 0, "observations": seen}
    ev = Evidence.from_run({"integrity": recorded})
    r = only(acked_writes(ev, TH))
    assert r.verdict == FAIL and r.detail == "1 lost, 1 changed; e.g. u2.bin, u1.bin"
    r = only(acked_searchable(ev, TH))
    assert r.verdict == FAIL and (r.n, r.detail) == (2, "1 not found; e.g. u3.bin")
    unlisted = observation(acked[0], None, True)  # a network that gives no file list
    assert summary([unlisted])["lost"] == 0 and unlisted["listed"] is None
