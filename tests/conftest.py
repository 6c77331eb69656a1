"""Shared fixtures: real clusters of real node processes on loopback."""

from __future__ import annotations

import time

import pytest

from node.cluster import Cluster
from tests.http import get


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


def peer_state(cluster: Cluster, observer: str, target: str) -> str | None:
    peers = get(f"{cluster.nodes[observer].http}/peers")["peers"]
    return next((p["state"] for p in peers if p["name"] == target), None)
