"""Neighbours (the links searches flood over) against members (everyone a node knows), on real
nodes in topologies the tests choose (tests/topology.py)."""

from __future__ import annotations

import json
import signal

import networkx as nx
import pytest

from tests.conftest import wait_for
from tests.topology import line, topology

pytestmark = pytest.mark.integration

LINE = ("n1", "n2", "n3", "n4", "n5")


def all_alive(graph, names) -> bool:
    return all(
        set(graph.states(n).values()) == {"alive"} and len(graph.states(n)) == len(names) - 1
        for n in names
    )


def reached(graph, origin: str, ttl: int) -> list[str]:
    answer = graph.get(origin, f"/search?q=zzz&ttl={ttl}")
    assert answer is not None and answer["partial"] is False
    return answer["nodes"]


def links(graph, names) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(names)
    g.add_edges_from((n, m) for n in names for m in graph.neighbours(n))
    return g


def test_a_line_floods_along_its_links_while_every_node_knows_every_member(tmp_path):
    with topology(tmp_path, line(LINE)) as graph:
        wait_for(lambda: all_alive(graph, LINE), timeout=15)  # members: everyone, by gossip
        for i, name in enumerate(LINE):
            assert graph.neighbours(name) == set(LINE[max(0, i - 1) : i + 2]) - {name}
            assert graph.get(name, "/health")["neighbours"] == len(graph.neighbours(name))
        assert reached(graph, "n1", 1) == ["n1", "n2"]
        assert reached(graph, "n1", 2) == ["n1", "n2", "n3"]
        assert reached(graph, "n3", 2) == list(LINE)
        saved = json.loads((tmp_path / "n3" / "node.json").read_text())
        assert {n["name"] for n in saved["neighbours"]} == {"n2", "n4"}


def test_a_full_node_refuses_a_link_and_the_joiner_links_elsewhere(tmp_path):
    boot = {"n1": [], "n2": ["n1"], "n3": ["n1"], "n4": ["n1"]}
    with topology(tmp_path, boot, extra={"n1": ["--max-degree", "2"]}) as graph:
        names = list(boot)
        wait_for(lambda: all_alive(graph, names), timeout=15)
        wait_for(lambda: all(graph.neighbours(n) for n in names), timeout=10)
        assert len(graph.neighbours("n1")) == 2  # the three joined at once: one was refused
        (refused,) = set(names) - {"n1"} - graph.neighbours("n1")
        (elsewhere,) = graph.neighbours(refused)
        assert elsewhere != "n1" and refused in graph.neighbours(elsewhere)
        assert sorted(reached(graph, refused, 3)) == names


def test_a_dead_neighbour_is_replaced_so_the_graph_stays_connected(tmp_path):
    names = ("n1", "n2", "n3", "n4")
    with topology(tmp_path, line(names)) as graph:
        wait_for(lambda: all_alive(graph, names), timeout=15)
        graph.signal("n2", signal.SIGKILL)  # n1's only neighbour
        survivors = ["n1", "n3", "n4"]
        wait_for(lambda: all(graph.states(n)["n2"] == "dead" for n in survivors), timeout=5)
        alive_links = lambda: links(graph, survivors)  # noqa: E731 - n2 answers nothing now
        wait_for(lambda: nx.is_connected(alive_links()), timeout=10)
        # n1 started with one neighbour and wants two (--min-degree 2) where it can have them
        wait_for(lambda: len(graph.neighbours("n1") - {"n2"}) == 2, timeout=10)
        assert sorted(reached(graph, "n1", 3)) == survivors
