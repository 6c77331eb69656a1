"""The Cluster page's view without a load run: the verdict so far mid-run, the final one after,
and the requests each node served, from a real run state and Locust environment.

The view runs in a process of its own (tests/webui_page.py): importing Locust monkey-patches
the process it is imported in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from reports.live import TO_COME
from reports.samples import requests
from reports.synthetic import NODES, synthetic_run

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration  # starts a process


@pytest.fixture(scope="module")
def page() -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.webui_page"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_mid_run_the_page_shows_the_verdict_so_far_and_what_is_to_come(page):
    snapshot = page["mid_run"]
    assert snapshot["verdict"].startswith("So far READY on 5 of 7 windows: all ")  # idle, levels
    assert snapshot["verdict"].endswith("; still to come: stress, after run")
    assert snapshot["criteria_title"] == "Criteria so far" and not snapshot["ended"]
    verdicts = {r["criterion"]: r["verdict"] for r in snapshot["criteria"]}
    assert verdicts["acked_writes"] == verdicts["final_verification"] == TO_COME
    assert verdicts["success_rate"] == "pass"


def test_after_the_run_the_page_shows_the_final_verdict_and_what_each_node_served(page):
    snapshot = page["ended"]
    assert snapshot["verdict"] == f"Verdict of the finished run: {page['reason']}"
    assert snapshot["criteria_title"] == "Final criteria" and snapshot["ready"]
    assert TO_COME not in {r["verdict"] for r in snapshot["criteria"]}
    whole = requests(synthetic_run(scale=page["scale"], seed=page["seed"])["samples"])
    served = Counter(s["node"] for s in whole if s["ok"])
    failed = Counter(s["node"] for s in whole if not s["ok"])
    assert {r["node"]: (r["served"], r["failed"]) for r in snapshot["nodes"]} == {
        n: (served[n], failed[n]) for n in NODES
    }
    assert all(r["served"] > 0 and r["state"].startswith("down") for r in snapshot["nodes"])


def test_a_new_run_counts_from_zero(page):
    assert sum(r["served"] for r in page["ended"]["nodes"]) > 0
    assert [r["served"] + r["failed"] for r in page["next_run_nodes"]] == [0] * len(NODES)


def test_each_node_row_names_its_host(page):
    """A node on a host (networks.cluster --hosts) by its host's ssh name, a local one by its
    address; the pid is the node's own, read from it (none while it is down)."""
    hosts = {r["node"]: (r["host"], r["pid"]) for r in page["mid_run"]["nodes"]}
    on_host = {n: (where["ssh"], "-") for n, where in page["on_host"].items()}
    assert hosts == {n: ("127.0.0.1", "-") for n in NODES} | on_host
