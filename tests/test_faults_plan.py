"""Plan parsing and every bad-plan case: each error names the field at fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faults import PlanError, load_plan, parse_duration, parse_plan

PLANS = Path(__file__).resolve().parent.parent / "faults" / "plans"

GOOD = """
version = 1
seed = 42
backend = "control"

[[fault]]
id = "crash-each"
kind = "crash"
target = "each"
at = "20s"
duration = "10s"
gap = "15s"

[[fault]]
id = "isolate"
kind = "partition"
shape = "isolate-one"
at = "2m"
duration = "1m30s"

[[fault]]
id = "slow"
kind = "latency"
target = "n2"
ms = 200
at = 300
duration = 12.5
"""


def one_fault(**fields: object) -> str:
    """A one-fault TOML plan with ``fields`` overriding a valid crash."""
    base = {"id": "f", "kind": "crash", "target": "n1", "at": "1s", "duration": "2s"}
    base.update(fields)
    body = "\n".join(f"{k} = {toml_value(v)}" for k, v in base.items() if v is not None)
    return f"version = 1\n[[fault]]\n{body}\n"


def toml_value(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def test_good_plan_parses_with_durations_in_seconds() -> None:
    plan = parse_plan(GOOD)
    assert (plan.version, plan.seed, plan.backend) == (1, 42, "control")
    crash, isolate, slow = plan.faults
    assert (crash.kind, crash.target, crash.at, crash.duration, crash.gap) == (
        "crash",
        "each",
        20.0,
        10.0,
        15.0,
    )
    assert (isolate.at, isolate.duration, isolate.options) == (
        120.0,
        90.0,
        {"shape": "isolate-one"},
    )
    assert (slow.at, slow.duration, slow.options) == (300.0, 12.5, {"ms": 200})


def test_json_plan_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(parse_plan_dict()))
    plan = load_plan(path)
    assert plan.faults[0].kind == "pause" and plan.source == str(path)


def parse_plan_dict() -> dict:
    return {"version": 1, "fault": [{"id": "p", "kind": "pause", "at": "1s", "duration": "1s"}]}


@pytest.mark.parametrize("name", sorted(p.name for p in PLANS.glob("*.toml")))
def test_shipped_plans_load(name: str) -> None:
    plan = load_plan(PLANS / name)
    assert plan.seed is not None and plan.faults


def test_the_wide_plan_is_the_quick_one_without_its_isolation() -> None:
    quick, wide = load_plan(PLANS / "quick.toml"), load_plan(PLANS / "wide.toml")
    kept = [(f.id, f.kind) for f in quick.faults if f.kind != "partition"]
    assert (
        [(f.id, f.kind) for f in wide.faults]
        == kept
        == [
            ("crash-one", "crash"),
            ("pause-one", "pause"),
            ("cut-one-link", "link"),
        ]
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20s", 20),
        ("1.5s", 1.5),
        ("500ms", 0.5),
        ("2m", 120),
        ("1m30s", 90),
        ("10", 10),
        (3, 3),
        (2.5, 2.5),
        ("1h", 3600),
        (" 5s ", 5),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-3s", 'x: negative duration "-3s"'),
        (-1, 'x: negative duration "-1"'),
        ("abc", 'x: unparseable duration "abc"'),
        ("5 parsecs", 'x: unparseable duration "5 parsecs"'),
        ("", 'x: unparseable duration ""'),
        (True, "x: expected a duration"),
        ([1], "x: expected a duration"),
        ("9999h", "longer than a week"),
    ],
)
def test_bad_durations(value: object, message: str) -> None:
    with pytest.raises(PlanError, match=None) as err:
        parse_duration(value, "x")
    assert message in str(err.value)


BAD_PLANS = [
    (one_fault(duration="-3s"), 'fault[0].duration: negative duration "-3s"'),
    (one_fault(at="soon"), 'fault[0].at: unparseable duration "soon"'),
    (one_fault(duration="0s"), "fault[0].duration: must be longer than zero"),
    (one_fault(duration=None), "fault[0].duration: missing"),
    (one_fault(at=None), "fault[0].at: missing"),
    (one_fault(kind="meteor"), "fault[0].kind: unknown kind 'meteor'"),
    (one_fault(kind=None), "fault[0].kind: unknown kind None"),
    (one_fault(durration="2s"), 'fault[0]: unknown field "durration"'),
    (one_fault(id="has space"), "fault[0].id: expected a short name"),
    (one_fault(gap="5s"), 'fault[0].gap: only meaningful with target = "each"'),
    (one_fault(target=3), "fault[0].target: expected a node name"),
    (one_fault(target=["n1", "n1"]), "fault[0].target: a node is listed twice"),
    (one_fault(allow_majority="yes"), "fault[0].allow_majority: expected true or false"),
    (one_fault(kind="latency"), "fault[0].ms: missing"),
    (one_fault(kind="latency", ms=True), "fault[0].ms: expected a whole number"),
    (one_fault(kind="latency", ms=99999), "fault[0].ms: expected a whole number"),
    (one_fault(kind="loss"), "fault[0].percent: missing"),
    (one_fault(kind="loss", percent=0), "fault[0].percent: expected a whole number, 1..100"),
    (one_fault(kind="loss", percent=101), "fault[0].percent: expected a whole number, 1..100"),
    (one_fault(kind="loss", percent=12.5), "fault[0].percent: expected a whole number"),
    (one_fault(kind="loss", percent=True), "fault[0].percent: expected a whole number"),
    (one_fault(kind="loss", percent="30%"), "fault[0].percent: expected a whole number"),
    (one_fault(kind="loss", percent=30, kbit=64), 'fault[0]: unknown field "kbit"'),
    (one_fault(kind="bandwidth"), "fault[0].kbit: missing"),
    (one_fault(kind="bandwidth", kbit=7), "fault[0].kbit: expected a whole number of kbit/s"),
    (one_fault(kind="bandwidth", kbit=10**8), "fault[0].kbit: expected a whole number of kbit/s"),
    (one_fault(kind="bandwidth", kbit="1mbit"), "fault[0].kbit: expected a whole number"),
    (one_fault(kind="bandwidth", kbit=64, percent=5), 'fault[0]: unknown field "percent"'),
    (one_fault(kind="crash", ms=5), 'fault[0]: unknown field "ms"'),
    (one_fault(kind="partition", target=None, shape="ring"), "fault[0].shape: unknown shape"),
    (
        one_fault(kind="partition", target=None, shape="halves", grudge={"n1": ["n2"]}),
        'fault[0].grudge: only with shape = "grudge"',
    ),
    (
        one_fault(kind="partition", target="n1", shape="halves"),
        "fault[0].target: shape halves takes no target",
    ),
    (one_fault(kind="partition", target=None, shape="grudge"), "fault[0].grudge: expected a table"),
    (
        one_fault(kind="partition", target=None, shape="grudge", grudge={"n1": ["n1"]}),
        "fault[0].grudge.n1: a node cannot be partitioned from itself",
    ),
    (
        one_fault(kind="partition", target=None, shape="grudge", grudge={"n1": "n2"}),
        "fault[0].grudge.n1: expected a list of node names",
    ),
    (
        one_fault(kind="partition", target="minority"),
        'fault[0].target: "minority" is not allowed for partition',
    ),
    (
        one_fault(kind="partition", target="10%"),
        'fault[0].target: "10%" is not allowed for partition',
    ),
    (one_fault(target="150%"), "fault[0].target: '150%' is not a share of the nodes"),
    (one_fault(target="0%"), "fault[0].target: '0%' is not a share of the nodes"),
    (one_fault(kind="stress", target="n1"), "fault[0].target: a stress window is cluster-wide"),
    (one_fault(kind="heal", duration="5s"), "fault[0].duration: a heal fault takes no duration"),
    (
        one_fault(kind="heal", duration=None, target="each"),
        'fault[0].target: "each" is not allowed for heal',
    ),
    (
        "version = 2\n[[fault]]\nid='a'\nkind='crash'\nat=1\nduration=1\n",
        "version: unsupported plan version 2",
    ),
    ("seed = 'x'\n" + one_fault(), "seed: expected an integer"),
    ("backend = 'tc'\n" + one_fault(), "backend: unknown backend 'tc'"),
    ("colour = 'red'\n" + one_fault(), 'plan: unknown field "colour"'),
    ("version = 1\n", "fault: a plan needs at least one [[fault]] entry"),
    (one_fault() + one_fault().replace("version = 1\n", ""), 'fault[1].id: duplicate id "f"'),
    ("version = = 1", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_PLANS, ids=[m for _, m in BAD_PLANS])
def test_bad_plans_name_the_field(text: str, message: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(text)
    assert message in str(err.value)


def test_unreadable_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan"):
        load_plan(tmp_path / "missing.toml")


def test_bad_json_plan() -> None:
    with pytest.raises(PlanError, match="not valid JSON"):
        parse_plan("{nope", fmt="json")
    with pytest.raises(PlanError, match="a plan must be a table"):
        parse_plan("[1, 2]", fmt="json")
