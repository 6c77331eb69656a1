"""Resolving plans against a cluster: node names, seeded draws, ordering and the guard."""

from __future__ import annotations

import pytest

from faults import Layout, PlanError, parse_plan, resolve

THREE = ["n1", "n2", "n3"]
FIVE = ["n1", "n2", "n3", "n4", "n5"]


def plan(*faults: str, head: str = "version = 1\nseed = 11\n") -> object:
    return parse_plan(head + "".join(f"[[fault]]\n{f}\n" for f in faults))


CRASH_EACH = 'id="c"\nkind="crash"\ntarget="each"\nat="10s"\nduration="5s"\ngap="3s"'
ISOLATE = 'id="i"\nkind="partition"\nat="50s"\nduration="5s"'
PAUSE_ONE = 'id="p"\nkind="pause"\nat="70s"\nduration="5s"'


def test_each_steps_in_turn_with_gaps() -> None:
    t = resolve(plan(CRASH_EACH), THREE)
    got = [(s.offset_s, s.phase, s.target) for s in t.steps]
    assert got == [
        (10, "start", "n1"),
        (15, "end", "n1"),
        (18, "start", "n2"),
        (23, "end", "n2"),
        (26, "start", "n3"),
        (31, "end", "n3"),
    ]
    assert t.end_s == 31 and t.seed == 11


def test_same_seed_same_timeline_and_draws_are_per_fault() -> None:
    p = plan(CRASH_EACH, ISOLATE, PAUSE_ONE)
    assert resolve(p, FIVE) == resolve(p, FIVE)
    seeds = {tuple(s.target for s in resolve(p, FIVE, seed=k).steps) for k in range(12)}
    assert len(seeds) > 1  # the seed does drive the draws
    # adding a fault does not change the draws of the others
    more = plan(CRASH_EACH, ISOLATE, PAUSE_ONE, 'id="q"\nkind="stop"\nat="90s"\nduration="1s"')
    base = [s for s in resolve(p, FIVE).steps]
    assert [s for s in resolve(more, FIVE).steps if s.fault_id != "q"] == base


def test_missing_seed_is_drawn_and_recorded() -> None:
    p = plan(PAUSE_ONE, head="version = 1\n")
    t = resolve(p, THREE)
    assert isinstance(t.seed, int) and t.to_dict()["seed"] == t.seed
    assert resolve(p, THREE, seed=t.seed) == t


def test_heals_sort_before_starts_at_the_same_instant() -> None:
    p = plan(
        'id="a"\nkind="crash"\ntarget="n1"\nat="10s"\nduration="5s"',
        'id="b"\nkind="pause"\ntarget="n1"\nat="15s"\nduration="5s"',
    )
    assert [(s.fault_id, s.phase) for s in resolve(p, THREE).steps if s.offset_s == 15] == [
        ("a", "end"),
        ("b", "start"),
    ]


def test_partition_shapes() -> None:
    t = resolve(plan('id="h"\nkind="partition"\nshape="halves"\nat=1\nduration=1'), FIVE)
    grudge = t.steps[0].params["grudge"]
    assert len(grudge) == 2 and all(len(v) == 3 for v in grudge.values())
    g = 'id="g"\nkind="partition"\nshape="grudge"\ngrudge={n1=["n2"]}\nat=1\nduration=1'
    assert resolve(plan(g), THREE).steps[0].params["grudge"] == {"n1": ["n2"]}
    iso = resolve(plan(ISOLATE), THREE).steps[0]
    assert iso.params["grudge"] == {iso.target: [n for n in THREE if n != iso.target]}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            'id="x"\nkind="crash"\ntarget="n9"\nat=1\nduration=1',
            'fault[0].target: unknown node "n9" (cluster has n1, n2, n3)',
        ),
        (
            'id="x"\nkind="crash"\ntarget=["n1","n7"]\nat=1\nduration=1',
            'fault[0].target: unknown node "n7"',
        ),
        (
            'id="x"\nkind="partition"\nshape="grudge"\ngrudge={n8=["n1"]}\nat=1\nduration=1',
            'fault[0].grudge: unknown node "n8"',
        ),
        (
            'id="x"\nkind="partition"\nshape="grudge"\ngrudge={n1=["n4"]}\nat=1\nduration=1',
            'fault[0].grudge.n1: unknown node "n4"',
        ),
    ],
)
def test_unknown_nodes(fault: str, message: str) -> None:
    with pytest.raises(PlanError) as err:
        resolve(plan(fault), THREE)
    assert message in str(err.value)


def test_overlap_on_one_node_is_refused() -> None:
    p = plan(
        'id="a"\nkind="crash"\ntarget="n2"\nat="10s"\nduration="10s"',
        'id="b"\nkind="latency"\nms=50\ntarget="n2"\nat="15s"\nduration="10s"',
    )
    with pytest.raises(PlanError) as err:
        resolve(p, FIVE)
    assert str(err.value) == 'fault[1].at: "b" overlaps "a" (fault[0]) on n2 at 15s'


def test_two_partitions_never_overlap() -> None:
    p = plan(
        'id="a"\nkind="partition"\ntarget="n1"\nat="10s"\nduration="10s"',
        'id="b"\nkind="partition"\ntarget="n2"\nat="12s"\nduration="10s"',
    )
    with pytest.raises(PlanError, match=r"fault\[1\].at: .*one partition at a time"):
        resolve(p, FIVE)


def test_faults_on_different_nodes_may_overlap_within_the_majority() -> None:
    p = plan(
        'id="a"\nkind="crash"\ntarget="n1"\nat="10s"\nduration="10s"',
        'id="b"\nkind="pause"\ntarget="n2"\nat="15s"\nduration="10s"',
    )
    assert len(resolve(p, FIVE).steps) == 4  # 2 of 5 down: 3 stay up


@pytest.mark.parametrize(
    "faults",
    [
        ['id="a"\nkind="crash"\ntarget="all"\nat=1\nduration=1'],
        [
            'id="a"\nkind="crash"\ntarget="n1"\nat=1\nduration=5',
            'id="b"\nkind="stop"\ntarget="n2"\nat=2\nduration=5',
        ],
        [
            'id="a"\nkind="crash"\ntarget="n1"\nat=1\nduration=5',
            'id="b"\nkind="partition"\ntarget="n2"\nat=2\nduration=5',
        ],
    ],
)
def test_majority_guard(faults: list[str]) -> None:
    with pytest.raises(PlanError, match="a majority must stay up"):
        resolve(plan(*faults), THREE)
    allowed = plan(*faults, head="version = 1\nseed = 1\nallow_majority = true\n")
    assert resolve(allowed, THREE).steps
    per_fault = [faults[0] + "\nallow_majority = true", *faults[1:]]
    assert resolve(plan(*per_fault), THREE).steps


def test_majority_guard_message_names_the_nodes() -> None:
    p = plan(
        'id="a"\nkind="crash"\ntarget="n1"\nat=1\nduration=5',
        'id="b"\nkind="pause"\ntarget="n3"\nat=2\nduration=5',
    )
    with pytest.raises(PlanError) as err:
        resolve(p, THREE)
    assert str(err.value).startswith(
        'fault[1].target: at 2s together with "a" it would take down n1, n3 (2 of 3 nodes)'
    )


def test_even_halves_lose_the_majority() -> None:
    p = plan('id="h"\nkind="partition"\nshape="halves"\nat=1\nduration=1')
    with pytest.raises(PlanError, match="2 of 4 nodes"):
        resolve(p, ["n1", "n2", "n3", "n4"])
    assert resolve(p, THREE).steps


def test_minority_and_latency_and_stress_and_heal_pass_the_guard() -> None:
    p = plan(
        'id="m"\nkind="crash"\ntarget="minority"\nat=1\nduration=5',
        'id="l"\nkind="latency"\nms=100\ntarget="all"\nat=10\nduration=5',
        'id="s"\nkind="stress"\nat=0\nduration=60',
        'id="h"\nkind="heal"\nat=12',
    )
    t = resolve(p, FIVE)
    crash = next(s for s in t.steps if s.fault_id == "m")
    assert len(crash.nodes) == 2 and crash.target == "+".join(crash.nodes)
    assert [s.phase for s in t.steps if s.fault_id == "h"] == ["start"]


def test_partition_needs_two_nodes_and_cluster_needs_nodes() -> None:
    with pytest.raises(PlanError, match="at least two nodes"):
        resolve(plan(ISOLATE), ["n1"])
    with pytest.raises(PlanError, match="cluster: no nodes"):
        resolve(plan(ISOLATE), [])


def test_dry_run_format_lists_every_step() -> None:
    text = resolve(plan(CRASH_EACH, ISOLATE), THREE).format()
    assert "seed 11, 3 nodes (n1, n2, n3)" in text and text.count("\n") == 1 + 8
    assert "grudge=" in text


def test_a_share_of_a_large_network_is_drawn_from_the_seed_and_guarded() -> None:
    nodes = [f"n{i + 1}" for i in range(40)]
    p = plan('id="a"\nkind="crash"\ntarget="10%"\nat=1\nduration=5')
    steps = resolve(p, nodes).steps
    assert len(steps[0].nodes) == 4 and resolve(p, nodes).steps == steps
    with pytest.raises(PlanError, match="a majority must stay up"):
        resolve(plan('id="a"\nkind="pause"\ntarget="60%"\nat=1\nduration=5'), nodes)


#: Two rings of four, n1..n4 and n5..n8, joined by the one link n4 - n5.
BARBELL = Layout(
    edges=(
        *(("n1", "n2"), ("n2", "n3"), ("n3", "n4"), ("n4", "n1")),
        *(("n5", "n6"), ("n6", "n7"), ("n7", "n8"), ("n8", "n5")),
        ("n4", "n5"),
    ),
    ultrapeers=("n4", "n5"),
)
EIGHT = [f"n{i}" for i in range(1, 9)]


def test_a_bridge_partition_cuts_the_topology_where_it_is_thinnest() -> None:
    bridge = 'id="b"\nkind="partition"\nshape="bridge"\nat=1\nduration=1'
    head = "version = 1\nallow_majority = true\n"  # 4 against 4: no side is a majority
    for seed in range(5):
        step = resolve(plan(bridge, head=head), EIGHT, seed=seed, layout=BARBELL).steps[0]
        sides = {frozenset(step.params["grudge"]), frozenset(EIGHT) - set(step.params["grudge"])}
        assert sides == {frozenset(EIGHT[:4]), frozenset(EIGHT[4:])}
    # Without known links (a full mesh) any halves are as thin as any other.
    step = resolve(plan(bridge, head=head), EIGHT, seed=1).steps[0]
    assert len(step.params["grudge"]) == 4


def test_an_ultrapeer_target_needs_a_network_with_ultrapeers() -> None:
    crash = 'id="u"\nkind="crash"\ntarget="ultrapeer"\nat=1\nduration=1'
    picked = {resolve(plan(crash), EIGHT, seed=s, layout=BARBELL).steps[0].target for s in range(9)}
    assert picked == {"n4", "n5"}
    with pytest.raises(PlanError, match=r"fault\[0\].target: the network has no ultrapeers"):
        resolve(plan(crash), EIGHT)


def test_a_link_cut_is_drawn_where_the_topology_stays_connected() -> None:
    link = 'id="l"\nkind="link"\nat=1\nduration=1'
    drawn = set()
    for seed in range(12):
        step = resolve(plan(link), EIGHT, seed=seed, layout=BARBELL).steps[0]
        a, b = step.nodes
        assert step.params["grudge"] == {a: [b], b: [a]} and step.params["shape"] == "link"
        drawn.add(frozenset((a, b)))
    assert frozenset(("n4", "n5")) not in drawn  # the bridge: cutting it would split the rings
    assert len(drawn) > 1
    named = resolve(plan(link + '\ntarget=["n2", "n3"]'), EIGHT, layout=BARBELL).steps[0]
    assert named.nodes == ("n2", "n3")
    line = Layout(edges=(("n1", "n2"), ("n2", "n3")))
    with pytest.raises(PlanError, match="no link of this topology can be cut without a split"):
        resolve(plan(link), ["n1", "n2", "n3"], layout=line)
    with pytest.raises(PlanError, match="a link is two different nodes"):
        resolve(plan(link + '\ntarget="one"'), EIGHT)


def test_a_link_cut_takes_no_node_down_so_it_may_overlap_a_crash_elsewhere() -> None:
    link = 'id="l"\nkind="link"\ntarget=["n1", "n2"]\nat=1\nduration=5'
    crash = 'id="c"\nkind="crash"\ntarget="n3"\nat=2\nduration=1'
    steps = resolve(plan(link, crash), ["n1", "n2", "n3", "n4", "n5"]).steps
    assert [s.kind for s in steps][:2] == ["link", "crash"]
