"""Loopback blocks: two networks on one machine never share a node address."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from networks import loopback
from networks.launcher import Launcher

HOLD = """
import sys, time
from networks import loopback
block = loopback.claim(sys.argv[1])
print(block.index, flush=True)
time.sleep(60)
"""


@pytest.fixture
def name() -> str:
    """A name space of blocks of this test's own (the real one may be in use by other runs)."""
    return f"peerload-test-{uuid.uuid4().hex}"


def test_claims_are_exclusive_and_released(name):
    first, second = loopback.claim(name), loopback.claim(name)
    assert (first.index, second.index) == (0, 1)
    assert first.host(11) == "127.0.0.11" and second.host(11) == "127.0.1.11"
    first.release()
    first.release()  # twice is fine
    third = loopback.claim(name)
    assert third.index == 0  # the lowest free one again
    second.release()
    third.release()


def test_a_dead_process_leaves_no_claim_behind(name):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, name], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        mine = loopback.claim(name)
        assert mine.index == 1  # held by the other process
        mine.release()
    finally:
        holder.kill()
        holder.wait()
    again = loopback.claim(name)
    assert again.index == 0  # the kernel dropped the dead process's lock
    again.release()


def test_all_blocks_taken_is_a_clear_error(name, monkeypatch):
    monkeypatch.setattr(loopback, "BLOCKS", 2)
    held = [loopback.claim(name), loopback.claim(name)]
    with pytest.raises(RuntimeError, match="all 2 loopback blocks"):
        loopback.claim(name)
    for block in held:
        block.release()


@pytest.mark.integration
def test_two_launchers_side_by_side_get_distinct_addresses(tmp_path):
    with Launcher("builtin", 2, workdir=tmp_path / "a", files_per_node=1) as a:
        with Launcher("builtin", 2, workdir=tmp_path / "b", files_per_node=1) as b:
            hosts_a = {n.host for n in a.nodes.values()}
            hosts_b = {n.host for n in b.nodes.values()}
            assert len(hosts_a) == 2 and not hosts_a & hosts_b
            assert a.block.index != b.block.index
