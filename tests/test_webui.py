"""The Cluster page's view (locustfiles/webui.py) without a load run: a real run state and Locust
environment holding the first half of a synthetic run, judged so far; then the same run ended."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from locust.argument_parser import get_parser
from locust.env import Environment

import reports
from locustfiles.options import add_options
from locustfiles.runstate import RunState
from locustfiles.shape import Phase4Shape, build_stages
from locustfiles.webui import FINAL_TITLE, FINISHED, LIVE_TITLE, ClusterView
from reports.live import TO_COME
from reports.samples import requests
from reports.synthetic import NODES, T0, synthetic_run
from reports.thresholds import Thresholds

SCALE = 0.4
LEVELS_END_S = 120 * SCALE  # the synthetic run's four levels end here
NO_NODE_URL = "http://127.0.0.1:1"  # nothing listens: the page shows the nodes down


def shifted(run: dict, delta: float) -> dict:
    """The run moved in time by ``delta`` seconds (its windows, samples and monitor rows)."""
    move = lambda d, *keys: {**d, **{k: d[k] + delta for k in keys if k in d}}  # noqa: E731
    return {
        **run,
        "windows": [move(w, "start", "end", "burst_start") for w in run["windows"]],
        "samples": [move(s, "t") for s in run["samples"]],
        "series": [move(r, "t") for r in run["series"]],
    }


@pytest.fixture
def page():
    """The view five seconds after the levels ended, the fault stage begun."""
    run = shifted(synthetic_run(scale=SCALE, seed=3), time.time() - (T0 + LEVELS_END_S + 5))
    parser = get_parser()
    add_options(parser)
    environment = Environment(user_classes=[], parsed_options=parser.parse_args([]))
    shape = Phase4Shape()
    shape.configure(build_stages((5, 10, 20, 25), 12, 10, 44, (30, 40), 8), None, Thresholds())
    environment.shape_class = shape
    state = RunState({"nodes": [{"name": n, "http": NO_NODE_URL} for n in NODES]})
    now = time.time()
    state.windows = [w for w in run["windows"] if w["end"] <= now]
    state.samples = [s for s in run["samples"] if s["t"] < now]
    state.series = [r for r in run["series"] if r["t"] < now]
    state.initial_problems = []
    return ClusterView(environment, state), state, run


def test_mid_run_the_page_shows_the_verdict_so_far_and_what_is_to_come(page):
    view, state, _ = page
    snapshot = view.snapshot()
    assert snapshot["verdict"].startswith("So far READY on 4 of 6 windows: all ")
    assert snapshot["verdict"].endswith("; still to come: stress, after run")
    assert snapshot["criteria_title"] == LIVE_TITLE and not snapshot["ended"]
    verdicts = {r["criterion"]: r["verdict"] for r in snapshot["criteria"]}
    assert verdicts["acked_writes"] == verdicts["final_verification"] == TO_COME
    assert verdicts["success_rate"] == "pass"


def test_after_the_run_the_page_shows_the_final_verdict_and_what_each_node_served(page):
    view, state, run = page
    state.samples = run["samples"]
    state.verdict = reports.judge(run)
    snapshot = view.snapshot()
    assert snapshot["verdict"] == f"{FINISHED}: {state.verdict.reason}"
    assert snapshot["criteria_title"] == FINAL_TITLE and snapshot["ready"]
    assert TO_COME not in {r["verdict"] for r in snapshot["criteria"]}
    whole = requests(run["samples"])
    served = Counter(s["node"] for s in whole if s["ok"])
    failed = Counter(s["node"] for s in whole if not s["ok"])
    assert {r["node"]: (r["served"], r["failed"]) for r in snapshot["nodes"]} == {
        n: (served[n], failed[n]) for n in NODES
    }
    assert all(r["served"] > 0 and r["state"].startswith("down") for r in snapshot["nodes"])


def test_a_new_run_counts_from_zero(page):
    view, state, _ = page
    assert sum(r["served"] for r in view.nodes()) > 0
    state.samples.clear()  # what the lifecycle does when the next run starts
    assert [r["served"] + r["failed"] for r in view.nodes()] == [0] * len(NODES)
