"""The monitor's CPU figures are measured, and real from its first row on.

Locust's own figure read 0.0 for the first ~20 s of a run (psutil's unprimed first call, read
every 10 s); these tests burn real CPU in real processes and check the first readings show it.
Importing Locust monkey-patches the whole process (gevent), so the monitor itself runs in a
Python of its own; the meters it uses (no Locust in them) run here.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import pytest

from locustfiles.console import fold_nodes
from locustfiles.cpumeter import GeneratorCpu, MachineCpu, ProcessCpu, generator_pids
from reports.cpu import NODES_SHOWN

BURN_S = 0.8
BUSY_PCT = 15.0  # a busy loop's CPU, % of one core, at least
BUSY_LOOP = "while True: pass"
ROOT = Path(__file__).resolve().parents[1]
#: A monitor started and ticked once, as the run does (2 s later); its row on stdout.
FIRST_ROW = f"""
import io, json, sys, time
from locust.env import Environment
from locustfiles.monitor import Monitor
from locustfiles.runstate import RunState
env = Environment(user_classes=[])
env.create_local_runner()
monitor = Monitor(env, RunState({{"nodes": []}}), out=io.StringIO())
monitor.start()
until = time.perf_counter() + {BURN_S}
while time.perf_counter() < until:
    pass
row = monitor.tick()
monitor.stop()
print(json.dumps({{**row, "line": Monitor.format(row), "locust": env.runner.current_cpu_usage}}))
env.runner.quit()
"""


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


def test_the_first_generator_and_machine_readings_are_measured():
    machine, generator = MachineCpu(), GeneratorCpu()  # what the monitor makes when it starts
    burn(BURN_S)
    busiest, total = generator.read(None)
    assert busiest > 40 and total >= busiest  # this process spent most of the interval on a core
    assert 100 >= machine.read() > 10  # one busy core of at most a few


@pytest.mark.integration  # starts a Python with Locust in it
def test_the_monitors_first_row_has_them_where_locust_still_says_zero():
    done = subprocess.run(
        [sys.executable, "-c", FIRST_ROW], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout.splitlines()[-1])
    assert row["locust"] == 0.0  # Locust's own figure: nothing measured yet
    assert row["generator_cpu"] > 40 and row["generator_cpu_total"] >= row["generator_cpu"]
    assert 100 >= row["machine_cpu"] > 10
    assert " locust " in row["line"] and " machine " in row["line"]


@pytest.mark.integration  # starts a process
def test_a_process_seen_for_the_first_time_reads_its_cpu_so_far(busy_process):
    time.sleep(BURN_S)
    meter = ProcessCpu()
    first = meter.read(busy_process.pid)  # a node just started (or restarted) looks like this
    # A busy loop reads well above an idle process's ~0 %, whatever share of a core the
    # shared machine leaves it (38 % seen with CI's other tests running).
    assert first is not None and first > BUSY_PCT
    time.sleep(BURN_S)
    assert meter.read(busy_process.pid) > BUSY_PCT  # then over the interval since


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


def test_a_process_memory_and_handles_are_read_with_uss_in_turn():
    import psutil

    from locustfiles.memmeter import USS_NODES_PER_ROW, ProcessMemory

    proc = psutil.Process()
    every_row = ProcessMemory(3).read(proc, 0)
    assert every_row["rss_mb"] > every_row["uss_mb"] > 1  # USS: this process's own pages
    assert every_row["fds"] >= 3 and every_row["threads"] >= 1
    many = ProcessMemory(USS_NODES_PER_ROW * 4)  # 40 nodes: each node's USS every 4th row
    assert many.every == 4
    read = [many.read(proc, row)["uss_mb"] is not None for row in range(8)]
    assert sum(read) == 2


def test_the_status_line_folds_per_node_figures_beyond_a_few_nodes():
    few = {"n1": 2.0, "n2": 3.0, "n3": 1.0}
    assert fold_nodes(few, "%", total=True) == "n1 2% n2 3% n3 1%"
    many = {f"n{i}": float(i % 7) for i in range(100)}
    line = fold_nodes(many, "%", total=True)
    assert line.startswith(f"total {sum(many.values()):.0f}%, top n6 6% ")
    assert len(line.split(" top ")[1].split()) == 2 * NODES_SHOWN  # name and figure each
    assert fold_nodes({f"n{i}": 50.0 + i % 3 for i in range(9)}).startswith("median 51, top ")
