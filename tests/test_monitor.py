"""The monitor's CPU figures are measured, and real from its first row on.

Locust's own figure read 0.0 for the first ~20 s of a run (psutil's unprimed first call, read
every 10 s); these tests burn real CPU in real processes and check the first readings show it.
"""

from __future__ import annotations

import io
import multiprocessing
import subprocess
import sys
import time

import pytest
from locust.env import Environment

from locustfiles.cpumeter import ProcessCpu, generator_pids
from locustfiles.monitor import Monitor
from locustfiles.runstate import RunState

BURN_S = 0.8
BUSY_LOOP = "while True: pass"


def burn(seconds: float) -> None:
    """Keep this process on one core for ``seconds``."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


@pytest.fixture
def busy_process():
    proc = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_the_first_row_has_measured_generator_and_machine_cpu():
    env = Environment(user_classes=[])
    env.create_local_runner()
    try:
        monitor = Monitor(env, RunState({"nodes": []}), out=io.StringIO())
        monitor.start()  # primes the meters; its first tick would come 2 s later
        burn(BURN_S)
        row = monitor.tick()
        monitor.stop()
    finally:
        env.runner.quit()
    # This process spent most of the interval on a core: its share shows from the first row.
    assert row["generator_cpu"] > 40
    assert row["generator_cpu_total"] >= row["generator_cpu"]
    assert 100 >= row["machine_cpu"] > 10  # one busy core of at most a few
    assert "locust" in Monitor.format(row) and "machine" in Monitor.format(row)


@pytest.mark.integration  # starts a process
def test_a_process_seen_for_the_first_time_reads_its_cpu_so_far(busy_process):
    time.sleep(BURN_S)
    meter = ProcessCpu()
    first = meter.read(busy_process.pid)  # a node just started (or restarted) looks like this
    assert first is not None and first > 40
    time.sleep(BURN_S)
    assert meter.read(busy_process.pid) > 40  # then over the interval since


@pytest.mark.integration
def test_a_process_that_is_gone_reads_nothing(busy_process):
    meter = ProcessCpu()
    busy_process.kill()
    busy_process.wait()
    assert meter.read(busy_process.pid) is None


@pytest.mark.integration
def test_the_generator_is_this_process_and_its_forks_not_the_nodes_it_started(busy_process):
    fork = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
    fork.start()
    try:
        pids = generator_pids()
    finally:
        fork.kill()
        fork.join()
    assert pids[0] == multiprocessing.current_process().pid
    assert fork.pid in pids and busy_process.pid not in pids
