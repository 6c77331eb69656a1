"""Shared fixtures: real clusters of real node processes on loopback."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from networks.cluster import Cluster
from tests.http import get

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cluster():
    """A 3-node cluster shared by a module's tests; they must leave it 3/3 alive."""
    with Cluster(3, files_per_node=6) as c:
        yield c


@pytest.fixture
def fresh_cluster():
    """A 3-node cluster of its own, for tests that break nodes."""
    with Cluster(3, files_per_node=4) as c:
        yield c


def wait_for(predicate, timeout: float, interval: float = 0.02):
    """Poll ``predicate`` until it returns a truthy value; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@contextlib.contextmanager
def cluster_cli(args: list[str], **popen) -> Iterator[tuple[subprocess.Popen, list[int]]]:
    """``python -m networks.cluster ARGS`` once it printed ``ready``: the process and its nodes'
    pids. Killed at the end if the test left it running."""
    cmd = [sys.executable, "-m", "networks.cluster", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, **popen)
    try:
        lines = []
        while (line := proc.stdout.readline()) and line.strip() != "ready":
            lines.append(line)
        yield proc, [int(x.split(" pid ")[1]) for x in lines if " pid " in x]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def peer_state(cluster: Cluster, observer: str, target: str) -> str | None:
    peers = get(f"{cluster.nodes[observer].http}/peers")["peers"]
    return next((p["state"] for p in peers if p["name"] == target), None)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(config, items):
    """Load tests (``@pytest.mark.load``) run Locust against real nodes, and two at once on a
    2-core machine would starve each other: they form one xdist group, so one worker runs them
    one after another while the other takes everything else. They are collected first, so that
    group starts at once, and a ``last=True`` one (the quick profile, judged READY, which a
    starved machine could tip over) comes at their end, when the other worker has most likely
    finished (xdist does not promise it: it is ~100 s of tests against ~120 s of load). Other
    tests are grouped by module, so a module's shared cluster starts once, on one worker."""
    load = [item for item in items if item.get_closest_marker("load")]
    for item in items:
        group = "load" if item.get_closest_marker("load") else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))
    load.sort(key=lambda item: bool(item.get_closest_marker("load").kwargs.get("last")))
    items[:] = load + [item for item in items if not item.get_closest_marker("load")]
