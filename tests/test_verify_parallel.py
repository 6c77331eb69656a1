"""The ``parallel`` conformance check: downloads stream at once, or the check says they do not.

Real nodes: ours as it is, and ours with its download streams limited to one at a time (the
node's own ``GRPC_MAX_STREAMS`` set to 1 before it starts, through a definition of its own) —
the defect an outside evaluation saw judged READY (downloads served one at a time while Phase 4
asks for parallel gRPC streaming).
"""

from __future__ import annotations

import os
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from networks.adapter import Hit
from networks.deepchecks import PARALLEL_BYTES
from networks.launcher import Launcher
from networks.verify import FAIL, PASS, conformance
from tests.patched import patched_definition

SERIAL_NODE = "import node.config as config; config.GRPC_MAX_STREAMS = 1"

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("serial", "outcome"), [(False, PASS), (True, FAIL)])
def test_downloads_that_queue_behind_each_other_fail_the_parallel_check(tmp_path, serial, outcome):
    network = patched_definition(tmp_path, "serial", SERIAL_NODE) if serial else "builtin"
    with Launcher(network, 1, files_per_node=2, workdir=tmp_path / "run") as launcher:
        net = launcher.network.adapter_class(launcher.node_infos())
        try:
            checks = {c.name: c for c in conformance(net, launcher.node_infos())}
        finally:
            net.close()
    parallel = checks["parallel"]
    assert parallel.outcome == outcome, parallel.detail
    if serial:
        assert "not in parallel" in parallel.detail
        assert checks["download"].outcome == PASS  # one at a time, every file still arrives
    else:
        assert "streamed at once, each intact" in parallel.detail


#: How long the test holds a stream after its first chunk: gRPC's BDP probe grew the window of a
#: held stream to 5-20 MiB within this (measured on our node), steady windows keep it at 64 KiB.
HOLD_S = 2.0
#: What may reach a held stream with steady windows: the first 1 MiB chunk, the one being
#: written, and the 64 KiB windows and socket buffers: far from the check's 32 MiB.
HELD_AT_MOST = 4 * 2**20


def served_bytes(http: str) -> float:
    """The node's own count of download bytes it has sent (written into gRPC); ``http``: its
    base URL."""
    with urllib.request.urlopen(f"{http}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "peerload_download_bytes_total" and sample.labels["direction"] == "out"
    )


def test_a_stream_held_by_the_parallel_check_cannot_take_in_a_whole_file(tmp_path):
    """The ``parallel`` check holds each stream after its first chunk: a serial server must not
    be able to push the whole file into it (gRPC's receive window grows with throughput unless
    the adapter keeps it steady), or it takes the next stream and looks parallel."""
    with Launcher("builtin", 1, files_per_node=1, workdir=tmp_path / "run") as launcher:
        owner = launcher.node_infos()[0]
        net = launcher.network.adapter_class(launcher.node_infos())
        net.steady_windows = True
        try:
            sha256 = net.index(owner, "held.bin", os.urandom(2**20) * (PARALLEL_BYTES // 2**20))
            hit = Hit(owner.name, "held.bin", sha256, PARALLEL_BYTES, 0, owner.grpc)
            before = served_bytes(owner.http)
            stream = net.download(owner, hit, 30.0)
            assert next(stream)
            time.sleep(HOLD_S)
            held = served_bytes(owner.http) - before
            stream.close()
        finally:
            net.close()
    assert 0 < held <= HELD_AT_MOST, f"{held / 2**20:.1f} MiB pushed into a held stream"
