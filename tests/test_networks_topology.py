"""Topologies (networks/topology.py): every spec builds a connected graph of the degrees and
diameter it promises, the same seed draws the same graph, and a bad spec is one clear line."""

from __future__ import annotations

import networkx as nx
import pytest

from networks.topology import ULTRA_LINKS, Topology, build, parse


def names(n: int) -> list[str]:
    return [f"n{i + 1}" for i in range(n)]


SPECS = ["full", "line", "ring", "random:d=4", "random:d=3", "smallworld", "twotier:ultra=5"]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_every_topology_is_connected_and_reproducible(spec, n):
    try:
        topo = build(spec, names(n), seed=3)
    except ValueError as exc:  # too few nodes for this spec: said so, naming it
        assert n <= 5 and f"on {n} nodes" in str(exc)
        return
    assert topo.nodes == tuple(names(n))
    assert nx.is_connected(topo.graph)
    assert build(spec, names(n), seed=3) == topo
    assert all(a != b and topo.nodes.index(a) < topo.nodes.index(b) for a, b in topo.edges)
    assert Topology.from_dict(topo.to_dict()) == topo
    # every node but n1 joins one already running: connected at every step of the start
    assert all(topo.earlier_neighbours(name) for name in topo.nodes[1:])


def test_shapes_degrees_and_diameters():
    n = 12
    full = build("full", names(n))
    assert full.is_full and full.diameter == 1 and len(full.edges) == n * (n - 1) // 2
    line = build("line", names(n))
    assert line.diameter == n - 1 and line.degree_stats() == (1, 22 / 12, 2)
    assert line.edges[0] == ("n1", "n2") and line.earlier_neighbours("n5") == ["n4"]
    ring = build("ring", names(n))
    assert ring.diameter == n // 2 and ring.degree_stats() == (2, 2.0, 2)
    assert ring.earlier_neighbours("n12") == ["n1", "n11"] and ring.neighbours("n1") == [
        "n2",
        "n12",
    ]
    regular = build("random:d=4", names(n), seed=1)
    assert regular.degree_stats() == (4, 4.0, 4) and regular.spec == "random:d=4"
    odd = build("random:d=3", names(11), seed=1)  # 11 x 3 is odd: no 3-regular graph
    assert len(odd.edges) == round(11 * 3 / 2)
    small = build("smallworld", names(n), seed=1)
    assert small.spec == "smallworld:k=4,p=0.1" and len(small.edges) == n * 4 // 2
    assert build("ring", names(2)).edges == (("n1", "n2"),)  # a ring of 2 is one link


def test_two_tiers_leaves_link_to_ultrapeers_only():
    topo = build("twotier:ultra=4,leaf=2", names(20), seed=5)
    ultra = set(names(4))
    for a, b in topo.edges:
        assert a in ultra or b in ultra, (a, b)
    for leaf in names(20)[4:]:
        assert set(topo.neighbours(leaf)) <= ultra and len(topo.neighbours(leaf)) == 2
        assert topo.earlier_neighbours(leaf) == topo.neighbours(leaf)  # ultrapeers start first
    assert topo.diameter <= 3
    default = build("twotier", names(50))
    assert default.spec == "twotier:ultra=5,leaf=3"
    big = build(f"twotier:ultra={ULTRA_LINKS + 10},leaf=3", names(200), seed=2)
    assert big.degree_stats()[2] >= ULTRA_LINKS  # ultrapeers: a dense random graph, not a mesh


def test_seeds_differ_and_hops_and_bounds():
    assert build("random:d=4", names(30), seed=1) != build("random:d=4", names(30), seed=2)
    line = build("line", names(5))
    assert line.hops_from("n1") == {"n1": 0, "n2": 1, "n3": 2, "n4": 3, "n5": 4}
    assert line.within("n1", 2) == {"n1", "n2", "n3"} and line.eccentricity("n3") == 2
    assert line.flood_bound() == 2 * 4 - 4 and build("full", names(3)).flood_bound() == 4
    assert "line on 5 nodes: 4 links, degree 1..2 (mean 1.6), diameter 4" == line.summary()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mesh", "unknown kind 'mesh'; one of full, line, ring"),
        ("", "expected one of full"),
        ("random:d=four", "d must be a whole number, not 'four'"),
        ("random:x=1", "'x=1' is not a parameter \\(d=\\)"),
        ("line:d=2", "is not a parameter \\(no parameters\\)"),
        ("smallworld:p=lots", "p must be a number"),
        ("random:d=9", "'random:d=9' on 6 nodes: d must be 2..5"),
        ("random:d=1", "d must be 2..5"),
        ("smallworld:k=3", "k must be even"),
        ("smallworld:p=2", "p must be 0..1"),
        ("twotier:ultra=9", "ultra must be 1..6"),
        ("twotier:ultra=2,leaf=3", "leaf must be 1..2"),
        ("x" * 200, "topology"),
    ],
)
def test_bad_specs_are_one_line(spec, message):
    with pytest.raises(ValueError, match=message) as caught:
        build(spec, names(6))
    assert "\n" not in str(caught.value)


def test_parse_keeps_defaults_and_from_dict_refuses_junk():
    assert parse(" Random : d=6 ").text() == "random:d=6"
    assert parse("smallworld:p=0.3").text() == "smallworld:k=4,p=0.3"
    for junk in [{}, {"spec": "line", "nodes": ["n1"], "edges": [["n1", "n9"]]}, {"edges": 3}]:
        with pytest.raises(ValueError, match="topology: not a"):
            Topology.from_dict(junk)


def test_a_two_tier_topology_names_its_ultrapeers_and_keeps_them_in_its_record():
    names = [f"n{i}" for i in range(1, 21)]
    two = build("twotier:ultra=4,leaf=2", names, seed=5)
    assert len(two.ultrapeers) == 4
    degree = two.degrees()
    assert min(degree[u] for u in two.ultrapeers) > max(
        degree[n] for n in names if n not in two.ultrapeers
    )
    assert Topology.from_dict(two.to_dict()) == two
    assert "ultrapeers" not in build("ring", names).to_dict()
    with pytest.raises(ValueError, match="an ultrapeer is not one of its nodes"):
        Topology.from_dict({**two.to_dict(), "ultrapeers": ["n99"]})


def test_the_links_nodes_hold_now_are_added_once_and_only_between_its_nodes():
    line = build("line", ["n1", "n2", "n3"])
    held = line.plus([("n3", "n1"), ("n1", "n2"), ("n1", "x"), ("n2", "n2")])
    assert held.edges == (("n1", "n2"), ("n2", "n3"), ("n1", "n3"))
    assert held.within("n1", 1) == {"n1", "n2", "n3"} and line.within("n1", 1) == {"n1", "n2"}
