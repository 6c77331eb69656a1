"""When a node's answer must say ``partial``: a neighbour it cannot ask, in-process, on the real
``Neighbours``, ``Membership`` and ``Flood`` (issue 18's single missing answer: after a partition
healed, the node that had been cut off spread its stale dead verdicts, every node held a live
neighbour dead for ~100 ms, and floods skipped it while their answers said complete)."""

from __future__ import annotations

from types import SimpleNamespace

from node.config import REPLACE_AFTER_S
from node.flood import Flood
from node.membership import Membership
from node.neighbours import Neighbours

ME = {"node_id": "id1", "name": "n1", "http": "http://127.0.0.11:1", "grpc": "127.0.0.11:2"}
#: n1 on a ring (n2, n5) with a link an earlier fault made (n3): more neighbours than it wants.
LINKED = ("n2", "n5", "n3")
RING_DEGREE = 2


def info(name: str) -> dict:
    host = f"127.0.0.1{name[1:]}"
    return {
        "node_id": f"id{name[1:]}",
        "name": name,
        "http": f"http://{host}:1",
        "grpc": host + ":2",
    }


def ring_node() -> Neighbours:
    members = Membership(dict(ME), None)
    members.learn_all([{**info(n), "inc": 5, "state": "alive"} for n in LINKED])
    links = Neighbours(members, max_degree=32, min_degree=RING_DEGREE)
    for name in LINKED:
        links.accept(members.by_name(name))
    links.target = RING_DEGREE
    return links


def test_a_fresh_death_makes_answers_partial_however_many_links_are_left():
    links = ring_node()
    n5 = links.membership.by_name("n5")
    links.membership.declare_dead(n5)  # alive: n2, n3, as many as the node wants
    assert len(links.alive()) >= links.wanted() and links.short()
    assert not links.short(sender="n5")  # the sender is not asked anyway
    n5.changed -= REPLACE_AFTER_S * 1.5
    links.membership.slowdown = 2  # a starved node: refutations take longer, so does the news
    assert links.short()
    links.membership.slowdown = 1  # settled: a real death, and enough links are left
    assert not links.short()
    links.membership.declare_dead(links.membership.by_name("n3"))
    links.membership.by_name("n3").changed -= REPLACE_AFTER_S
    assert links.short()  # settled, but too few alive: not made up for yet


class Peers:
    """Answers a flood for every neighbour asked, each with its own name reached."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def call_many(
        self, peers: list[tuple[str, str]], op: str, body: dict, *, timeout: float
    ) -> list[dict]:
        self.asked += [name for _, name in peers]
        return [{"results": [], "nodes": [name], "messages": 0} for _, name in peers]


def test_a_search_that_cannot_ask_a_neighbour_just_declared_dead_says_partial():
    links, peers = ring_node(), Peers()
    catalog = SimpleNamespace(search=lambda term: [])
    flood = Flood(dict(ME), catalog, links, peers)
    assert not flood.search("alpha", ttl=1, deadline_s=1.0)["partial"]
    links.membership.declare_dead(links.membership.by_name("n5"))  # alive, by mistake
    peers.asked.clear()
    answer = flood.search("alpha", ttl=1, deadline_s=1.0)
    assert sorted(peers.asked) == ["n2", "n3"] and "n5" not in answer["nodes"]
    assert answer["partial"]  # never a complete answer without a neighbour within its TTL
