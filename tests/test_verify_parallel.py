"""The ``parallel`` conformance check: downloads stream at once, or the check says they do not.

Real nodes: ours as it is, and ours with its download streams limited to one at a time (the
node's own ``GRPC_MAX_STREAMS`` set to 1 before it starts, through a definition of its own) —
the defect an outside evaluation saw judged READY (downloads served one at a time while Phase 4
asks for parallel gRPC streaming).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from networks.definition import load_file
from networks.launcher import Launcher
from networks.verify import FAIL, PASS, conformance

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "networks" / "builtin.toml"
SERIAL_NODE = (
    "import runpy, sys; import node.config as config; config.GRPC_MAX_STREAMS = 1; "
    "sys.argv[0] = 'node'; runpy.run_module('node', run_name='__main__')"
)

pytestmark = pytest.mark.integration


def serial_definition(tmp_path: Path):
    """The builtin definition, its node started with one download stream at a time."""
    text = BUILTIN.read_text().replace(
        '"{python}", "-m", "node"', f'"{{python}}", "-c", "{SERIAL_NODE}"'
    )
    text = text.replace('cwd = ".."', f'cwd = "{ROOT}"').replace("{here}/..", str(ROOT))
    text = text.replace('name = "builtin"', 'name = "serial"')
    path = tmp_path / "serial.toml"
    path.write_text(text)
    return load_file(path)


@pytest.mark.parametrize(("serial", "outcome"), [(False, PASS), (True, FAIL)])
def test_downloads_that_queue_behind_each_other_fail_the_parallel_check(tmp_path, serial, outcome):
    network = serial_definition(tmp_path) if serial else "builtin"
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
