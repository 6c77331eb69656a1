"""Flooding search in-process: ``Flood`` objects wired by a fake network that delivers each
node's copies one at a time in an order the test chooses, so races between copies are
reproducible."""

from __future__ import annotations

from types import SimpleNamespace

import networkx as nx
import pytest

from node.flood import Flood, valid_answer
from reports.checker import flood_bound

NAMES = ("n1", "n2", "n3")
MESH = nx.complete_graph(NAMES)


class Net:
    """Nodes on ``graph`` (a full mesh of three by default); ``call_many`` delivers each copy
    synchronously, in the caller's order of peers, last first when ``reverse``."""

    def __init__(self, reverse: bool, graph: nx.Graph = MESH) -> None:
        self.reverse = reverse
        self.dead: set[str] = set()  # neighbours declared dead everywhere, never replaced
        self.nodes: dict[str, Flood] = {}
        for name in graph:
            me = {"name": name, "grpc": f"{name}:1"}
            files = SimpleNamespace(search=lambda term, n=name: [record(f"alpha-{n}.txt")])
            peers = SimpleNamespace(
                alive=lambda n=name: [peer(p) for p in sorted(graph[n]) if p not in self.dead],
                short=lambda sender=None, n=name: any(
                    p in self.dead and p != sender for p in graph[n]
                ),
            )
            self.nodes[name] = Flood(me, files, peers, Client(self, name))


class Client:
    def __init__(self, net: Net, name: str) -> None:
        self.net, self.name = net, name

    def call_many(self, peers, op, body, *, timeout):
        order = list(reversed(peers)) if self.net.reverse else list(peers)
        answers = {name: self.net.nodes[name].relay(dict(body), self.name) for _, name in order}
        return [answers[name] for _, name in peers]


def record(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, size=1, sha256="0" * 64)


def peer(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, http=f"http://{name}")


@pytest.mark.parametrize("reverse", [False, True])
def test_a_direct_neighbours_hit_is_one_hop_whichever_copy_arrives_first(reverse):
    # reverse: n3 gets n2's copy first and relays it to n1, which answers from there (2 hops)
    # before n2's own copy reaches it as a duplicate.
    answer = Net(reverse).nodes["n2"].search("alpha", ttl=3, deadline_s=1.0)
    assert sorted((r["node"], r["hops"]) for r in answer["results"]) == [
        ("n1", 1),
        ("n2", 0),
        ("n3", 1),
    ]
    # The copy that came the long way reached n3 (or n1) with 1 TTL left; the direct one brings
    # 2 and is forwarded again: one message more than 2E - (N - 1), within the bound.
    assert answer["messages"] == 5 <= flood_bound(MESH, "n2", 3) and answer["reached"] == 3


def test_a_copy_that_came_a_shorter_way_is_forwarded_again_to_reach_what_the_first_could_not():
    # o - a - b - x - y, and o - x. TTL 3: y is 2 hops away (o, x, y). Copies are delivered one at
    # a time, a's first: x first gets o -> a -> b -> x with no TTL left and cannot forward it.
    graph = nx.Graph([("o", "a"), ("a", "b"), ("b", "x"), ("x", "y"), ("o", "x")])
    answer = Net(reverse=False, graph=graph).nodes["o"].search("alpha", ttl=3, deadline_s=1.0)
    assert sorted((r["node"], r["hops"]) for r in answer["results"]) == [
        ("a", 1), ("b", 2), ("o", 0), ("x", 1), ("y", 2),
    ]  # fmt: skip
    assert answer["reached"] == 5 and not answer["partial"]
    assert answer["messages"] <= flood_bound(graph, "o", 3)


def test_a_duplicate_says_how_many_hops_its_copy_took():
    net = Net(reverse=False)
    n1 = net.nodes["n1"]
    message = {"id": "ab", "q": "alpha", "ttl": 1, "hops": 2, "budget_ms": 100}
    first = n1.relay(message, "n3")
    again = n1.relay({**message, "hops": 1}, "n2")
    assert first["hops_to"]["n1"] == 2 and first["results"][0]["hops"] == 2
    assert again["duplicate"] and again["hops_to"] == {"n1": 1} and again["results"] == []


@pytest.mark.parametrize("hops_to", [["n1"], {"n1": "1"}, {"n1": 1.5}, {"n1": None}])
def test_a_malformed_hop_map_makes_the_answer_invalid(hops_to):
    assert valid_answer({"results": [], "hops_to": {"n1": 1}})
    assert not valid_answer({"results": [], "hops_to": hops_to})


def test_a_neighbour_declared_dead_is_not_asked_and_the_answer_says_it_may_lack_something():
    net = Net(reverse=False)
    net.dead.add("n3")
    answer = net.nodes["n1"].search("alpha", ttl=2, deadline_s=1.0)
    assert {r["node"] for r in answer["results"]} == {"n1", "n2"} and answer["partial"]
    net.dead.clear()
    assert not net.nodes["n1"].search("alpha", ttl=2, deadline_s=1.0)["partial"]
