"""Steady-state and detection probes against the fake cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from faults.backends import ControlClient
from faults.testing import FakeCluster
from tests import probes


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with FakeCluster(3) as fc:
        yield fc


def test_all_alive_and_canary_when_healthy(cluster: FakeCluster) -> None:
    alive = probes.all_alive(cluster.descriptor)
    assert alive.ok and alive.summary == "all alive (n1:2/2, n2:2/2, n3:2/2)"
    canary = probes.canary_search(cluster.descriptor, "canary")
    assert canary.ok and canary.detail["n1"]["hits_from"] == ["n1", "n2", "n3"]


def test_probes_see_a_crash_and_a_partition(cluster: FakeCluster) -> None:
    control = ControlClient(cluster.descriptor)
    control.node_action("n1", "kill")
    alive = probes.all_alive(cluster.descriptor, timeout=0.5)
    assert not alive.ok and "n1:down" in alive.summary and "n2:1/2" in alive.summary
    assert probes.marked(cluster.descriptor, "n1")
    canary = probes.canary_search(cluster.descriptor, "canary", origins=["n2", "n3"])
    assert not canary.ok and canary.detail["n2"]["reached"] == 2
    survivors = ["n2", "n3"]
    assert probes.canary_search(
        cluster.descriptor, "canary", origins=survivors, expect=survivors
    ).ok
    control.node_action("n1", "start")
    control.admin("n3", "partition", {"drop": ["n1", "n2"]})
    views = probes.peer_views(cluster.descriptor)
    assert views["n1"]["n3"] == "dead" and views["n3"] == {"n1": "dead", "n2": "dead"}


def test_detect_times(cluster: FakeCluster) -> None:
    control = ControlClient(cluster.descriptor)
    started = time.monotonic()
    control.node_action("n2", "pause")
    healed_at = started + 0.3
    threading.Timer(0.3, control.node_action, ("n2", "resume")).start()
    times = probes.detect_times(cluster.descriptor, "n2", started_at=started, healed_at=healed_at)
    assert times.target == "n2"
    assert times.dead_after_s is not None and times.dead_after_s < 0.3
    assert times.recovered_after_s is not None and times.recovered_after_s < 1.0


def test_wait_for_times_out() -> None:
    assert probes.wait_for(lambda: False, since=time.monotonic(), timeout=0.05) is None
    assert probes.wait_for(lambda: True, since=time.monotonic() - 1, timeout=0) >= 1
