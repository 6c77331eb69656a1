"""The Cluster page's view (locustfiles/webui.py) over a synthetic run, printed as JSON.

Run in a process of its own by tests/test_webui.py: the view needs Locust, and importing Locust
monkey-patches the whole process (the gRPC server tests in the same pytest process then hang).
A real run state and Locust environment hold the first half of the run (the levels ended, the
fault stage begun): the snapshot then; then the run ended and judged; then a new run started.
"""

from __future__ import annotations

import json
import sys
import time

from locust.argument_parser import get_parser
from locust.env import Environment

import reports
from locustfiles.options import add_options
from locustfiles.runstate import RunState
from locustfiles.shape import Phase4Shape, build_stages
from locustfiles.webui import ClusterView
from reports.synthetic import NODES, T0, synthetic_run
from reports.thresholds import Thresholds

SCALE, SEED = 0.4, 3
LEVELS_END_S = 120 * SCALE  # the synthetic run's four levels end here
AFTER_LEVELS_S = 5.0
NO_NODE_URL = "http://127.0.0.1:1"  # nothing listens: the page shows the nodes down
#: A node on another machine, as networks.cluster --hosts describes it (its host's ssh name);
#: the others are local, at their address.
ON_HOST = {"n1": {"ssh": "root@10.0.0.5:22", "host": "10.0.0.5"}}


def shifted(run: dict, delta: float) -> dict:
    """The run moved in time by ``delta`` seconds (its windows, samples and monitor rows)."""
    move = lambda d, *keys: {**d, **{k: d[k] + delta for k in keys if k in d}}  # noqa: E731
    return {
        **run,
        "windows": [move(w, "start", "end", "burst_start") for w in run["windows"]],
        "samples": [move(s, "t") for s in run["samples"]],
        "series": [move(r, "t") for r in run["series"]],
        "acked": [move(a, "t") for a in run["acked"]],
    }


def main() -> int:
    delta = time.time() - (T0 + LEVELS_END_S + AFTER_LEVELS_S)
    run = shifted(synthetic_run(scale=SCALE, seed=SEED), delta)
    parser = get_parser()
    add_options(parser)
    environment = Environment(user_classes=[], parsed_options=parser.parse_args([]))
    shape = Phase4Shape()
    shape.configure(build_stages((5, 10, 20, 25), 12, 10, 44, (30, 40), 8), None, Thresholds())
    environment.shape_class = shape
    # the nodes with the files they were seeded with: the checker judges hits against them
    held = {n["name"]: n["files"] for n in run["nodes"]}
    state = RunState(
        {
            "nodes": [
                {"name": n, "http": NO_NODE_URL, "files": held[n], **ON_HOST.get(n, {})}
                for n in NODES
            ]
        }
    )
    now = time.time()
    state.windows = [w for w in run["windows"] if w["end"] <= now]
    state.samples = [s for s in run["samples"] if s["t"] < now]
    state.series = [r for r in run["series"] if r["t"] < now]
    state.acked = [a for a in run["acked"] if a["t"] < now]
    state.initial_problems = []
    view = ClusterView(environment, state)
    out = {"scale": SCALE, "seed": SEED, "on_host": ON_HOST, "mid_run": view.snapshot()}
    state.samples = run["samples"]
    state.verdict = reports.judge(run)
    out["ended"] = view.snapshot()
    out["reason"] = state.verdict.reason
    state.samples.clear()  # what the lifecycle does when the next run starts
    out["next_run_nodes"] = view.nodes()
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
