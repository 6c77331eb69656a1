"""The ``parallel`` conformance check: downloads stream at once, or the check says they do not.

Real nodes: ours as it is, and ours with its download streams limited to one at a time (the
node's own ``GRPC_MAX_STREAMS`` set to 1 before it starts, through a definition of its own) —
the defect an outside evaluation saw judged READY (downloads served one at a time while Phase 4
asks for parallel gRPC streaming).
"""

from __future__ import annotations

import pytest

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
