"""What a search can reach on a topology (networks/reach.py): the TTL a check asks for, who
searches, and what a TTL-k answer got wrong — the rules of the ``ttl_depth`` check."""

from __future__ import annotations

from networks.adapter import Hit, NodeInfo
from networks.reach import MAX_TTL, SEARCH_TTL, depth_problems, search_ttl, searcher, shared_term
from networks.topology import build

LINE = build("line", [f"n{i + 1}" for i in range(5)])
HOPS = LINE.hops_from("n1")
SEEDED = set(LINE.nodes)


def hit(node: str, hops: int | None) -> Hit:
    return Hit(node, f"alpha-{node}-000.txt", None, 1, hops)


def test_an_answer_of_exactly_the_nodes_within_ttl_passes():
    hits = (hit("n1", 0), hit("n2", 1), hit("n3", 2))
    assert depth_problems(hits, ("n1", "n2", "n3"), HOPS, SEEDED, 2) is None


def test_hits_from_beyond_ttl_shortcuts_and_missing_nodes_fail():
    flooded = (hit("n1", 0), hit("n2", 1), hit("n3", 1), hit("n4", 1))  # our node before neighbours
    wrong = depth_problems(flooded, None, HOPS, SEEDED, 2)
    assert wrong == (
        "hits from beyond TTL: n4 (3 hops); "
        "fewer hops claimed than the topology has: n3 (2 hops), n4 (3 hops)"
    )
    assert depth_problems((hit("n1", 0),), None, HOPS, SEEDED, 1) == (
        "missing nodes within TTL: n2 (1 hop)"
    )
    answered = depth_problems((hit("n1", 0), hit("n2", 1)), ("n1", "n2", "n5"), HOPS, SEEDED, 1)
    assert answered == "hits from beyond TTL: n5 (4 hops)"  # it answered, though with no hit
    phantom = depth_problems((hit("n1", 0), hit("n2", 1), hit("x9", 1)), None, HOPS, SEEDED, 1)
    assert phantom == "hits from beyond TTL: x9 (? hops)"


def test_the_ttl_a_check_asks_for_reaches_its_target_up_to_the_cap():
    assert search_ttl(None, "n1") == SEARCH_TTL
    assert search_ttl(LINE, "n1") == 4 and search_ttl(LINE, "n3") == SEARCH_TTL
    assert search_ttl(LINE, "n1", "n2") == SEARCH_TTL
    long = build("line", [f"n{i + 1}" for i in range(20)])
    assert search_ttl(long, "n1") == MAX_TTL


def test_who_searches_and_the_shared_word():
    files = lambda n: ({"name": f"alpha-{n}.txt"}, {"name": f"beta-{n}.txt"})  # noqa: E731
    nodes = [NodeInfo(n, files=files(n)) for n in LINE.nodes]
    ring = build("ring", list(LINE.nodes))
    assert searcher(nodes, nodes[2], ring).name == "n2"
    assert searcher(nodes, nodes[4], None).name == "n1"
    assert shared_term(nodes) == "alpha"  # in every first name, and in fewer names than txt
    assert shared_term([NodeInfo("a", files=({"name": "x.txt"},)), NodeInfo("b")]) == "txt"
    assert shared_term([]) is None
