"""A node started with ``--parent-pid`` leaves when that parent is gone, even with no death
signal set up for it (the check is a chore of the failure detector's loop)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from tests.test_networks_launcher import ROOT, running, wait_gone

PARENT = """
import os, subprocess, sys, time
node = subprocess.Popen(
    [sys.executable, "-m", "node", "--name", "orphan", "--data-dir", sys.argv[1],
     "--parent-pid", str(os.getpid())],
    cwd=sys.argv[2], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    start_new_session=True,
)
print(node.pid, flush=True)
time.sleep(60)
"""
UP_WITHIN_S = 20.0


def test_a_node_leaves_when_its_parent_is_killed(tmp_path):
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARENT), str(tmp_path / "d"), str(ROOT)],
        stdout=subprocess.PIPE,
        text=True,
    )
    node_pid = None
    try:
        node_pid = int(parent.stdout.readline())
        node_file = tmp_path / "d" / "node.json"
        deadline = time.monotonic() + UP_WITHIN_S
        while not node_file.exists():  # written once the node listens and its loops run
            assert time.monotonic() < deadline, "the node never started"
            time.sleep(0.05)
        assert running(node_pid)
        parent.kill()
        parent.wait()
        wait_gone([node_pid])
    finally:
        parent.kill()
        parent.wait()
        if node_pid is not None and running(node_pid):
            os.kill(node_pid, signal.SIGKILL)
