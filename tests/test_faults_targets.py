"""Targeting is pure: same seed, same draws; who cannot reach whom."""

from __future__ import annotations

import random

import pytest

from faults import targets

NODES = ["n1", "n2", "n3", "n4", "n5"]


def test_pick_one_is_seeded() -> None:
    draws = [targets.pick_one(NODES, random.Random(f"7:{i}")) for i in range(20)]
    again = [targets.pick_one(NODES, random.Random(f"7:{i}")) for i in range(20)]
    assert draws == again and set(draws) <= set(NODES) and len(set(draws)) > 1


@pytest.mark.parametrize(("spec", "n", "size"), [("10%", 100, 10), ("10%", 5, 1), ("34%", 3, 2)])
def test_a_share_of_the_nodes_rounds_up_and_is_seeded(spec: str, n: int, size: int) -> None:
    nodes = [f"n{i + 1}" for i in range(n)]
    [group] = targets.select(spec, nodes, random.Random(3))
    assert len(group) == size and group == [x for x in nodes if x in group]
    assert [group] == targets.select(spec, nodes, random.Random(3))
    assert targets.is_selector(spec) and not targets.is_selector("n1")


@pytest.mark.parametrize("spec", ["0%", "101%", "10", "%", "ten%", "1.234%"])
def test_not_a_share(spec: str) -> None:
    assert targets.share(spec) is None


def test_each_keeps_cluster_order() -> None:
    assert targets.each(NODES) == NODES


@pytest.mark.parametrize(("n", "size"), [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (7, 3)])
def test_minority_leaves_a_strict_majority(n: int, size: int) -> None:
    nodes = [f"n{i}" for i in range(n)]
    picked = targets.minority(nodes, random.Random(1))
    assert len(picked) == size and 2 * (n - size) > n
    assert picked == [x for x in nodes if x in picked]  # cluster order


def test_halves_split_disjoint_and_complete() -> None:
    small, large = targets.halves(NODES, random.Random(3))
    assert len(small) == 2 and len(large) == 3 and sorted(small + large) == NODES


def test_isolate_and_split() -> None:
    assert targets.isolate("n2", ["n1", "n2", "n3"]) == {"n2": ["n1", "n3"]}
    assert targets.split(["n1"], ["n2", "n3"]) == {"n1": ["n2", "n3"]}


def test_symmetric_pairs_cut_both_directions() -> None:
    assert targets.symmetric_pairs({"n1": ["n2"]}) == [("n1", "n2"), ("n2", "n1")]


def test_components_and_cut_off() -> None:
    nodes = ["n1", "n2", "n3"]
    assert targets.components(nodes, {}) == [nodes]
    assert targets.components(nodes, {"n2": ["n1", "n3"]}) == [["n1", "n3"], ["n2"]]
    assert targets.cut_off(nodes, {"n2": ["n1", "n3"]}) == {"n2"}
    # n1 cannot reach n2, but both reach n3: still one group (a bridge), nobody cut off
    assert targets.cut_off(nodes, {"n1": ["n2"]}) == set()
    assert targets.cut_off(NODES, targets.split(["n1", "n2"], ["n3", "n4", "n5"])) == {"n1", "n2"}


def test_select_forms() -> None:
    rng = random.Random(0)
    assert targets.select("each", ["a", "b"], rng) == [["a"], ["b"]]
    assert targets.select("all", ["a", "b"], rng) == [["a", "b"]]
    assert targets.select("b", ["a", "b"], rng) == [["b"]]
    assert targets.select(("a", "b"), ["a", "b"], rng) == [["a", "b"]]
    assert targets.select("one", ["a", "b"], rng)[0][0] in {"a", "b"}
    assert targets.label(["n1", "n3"]) == "n1+n3"
