"""``python -m networks.verify``: conformance before load, each check a named line; exit 0/1/2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from networks.launcher import Launcher

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ("up", "joined", "search", "ttl0", "download", "corpus", "index")


def verify(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "networks.verify", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_a_bad_network_is_one_line_and_exit_2():
    run = verify("--network", "nosuch")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("networks.verify: error: network 'nosuch'")
    assert "Traceback" not in run.stderr


@pytest.mark.integration
@pytest.mark.parametrize("network", ["builtin", "examples/tinyp2p/network.toml"])
def test_a_healthy_network_passes_every_named_check(network):
    if "tinyp2p" in network:
        pytest.importorskip("aiohttp", reason="the example network needs the 'examples' extra")
    run = verify("--network", network)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in CHECKS:
        assert f"pass            {name}:" in run.stdout, name
    assert "7 passed, 0 failed" in run.stdout


@pytest.mark.integration
def test_attached_to_a_network_with_a_node_down_it_fails_naming_the_check():
    with Launcher("builtin", 3) as network:
        network.kill("n3")
        run = verify("--cluster", str(network.descriptor_path))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL            up: n3 does not answer" in run.stdout
