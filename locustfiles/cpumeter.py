"""CPU readings the monitor takes itself: the machine, the load generator, each node.

Locust's own figure (``runner.current_cpu_usage``, and each worker's in its heartbeat) is
psutil's ``cpu_percent()`` read every 10 s (``locust.runners.CPU_MONITOR_INTERVAL``), and its
first call has nothing to compare with and returns 0.0: it read 0.0 for the first ~20 s of a
runner's life (18 s into a run) and then moved in 10 s steps. The same first-call 0.0 hit every
node's first reading, and a restarted node's. Here each reading is measured over the interval
since the previous one, and the first one of a process over its life so far: a real figure
from the first monitor row on.
"""

from __future__ import annotations

import socket
import time

import psutil

#: A process younger than this has used too little CPU to give a meaningful percentage.
MIN_SPAN_S = 0.5


def _busy_and_total(times) -> tuple[float, float]:
    """Busy and total CPU seconds of all cores (idle and I/O wait are not busy; guest time is
    already counted in user time), as ``psutil.cpu_percent`` counts them."""
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - times.idle - getattr(times, "iowait", 0.0), total


class MachineCpu:
    """The whole machine's CPU, percent of all its cores, since the previous reading (the first:
    since the meter was made, which is its priming)."""

    def __init__(self) -> None:
        self._last = _busy_and_total(psutil.cpu_times())

    def read(self) -> float | None:
        """Busy percent of all cores since the last reading; None over too short a span."""
        busy, total = _busy_and_total(psutil.cpu_times())
        (busy0, total0), self._last = self._last, (busy, total)
        if total - total0 <= 0:
            return None
        return round(max(0.0, min(100.0, 100.0 * (busy - busy0) / (total - total0))), 1)


class ProcessCpu:
    """Each process's CPU, percent of one core, since the previous reading of that process; the
    first reading of a process (a node just restarted, say) covers its life so far."""

    def __init__(self) -> None:
        #: pid -> (create time: tells a reused pid, CPU seconds, monotonic time of the reading)
        self._last: dict[int, tuple[float, float, float]] = {}

    def read(self, pid: int) -> float | None:
        """CPU percent of one core, or None: no such process, or too young to measure."""
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                created, times = proc.create_time(), proc.cpu_times()
        except (psutil.Error, OSError):
            self._last.pop(pid, None)
            return None
        now, used = time.monotonic(), times.user + times.system
        last = self._last.get(pid)
        self._last[pid] = (created, used, now)
        if last is None or last[0] != created:
            used0, span = 0.0, time.time() - created
        else:
            used0, span = last[1], now - last[2]
        if span < MIN_SPAN_S:
            return None
        return round(max(0.0, 100.0 * (used - used0) / span), 1)

    def forget_others(self, pids: set[int]) -> None:
        """Drop what is kept of processes not in ``pids`` (gone, or no longer watched)."""
        for pid in set(self._last) - pids:
            del self._last[pid]


def generator_pids() -> list[int]:
    """This Locust process and the workers it forked (``--processes``): children running the
    same command line. The nodes it started are children too, but run another command."""
    me = psutil.Process()
    try:
        cmdline = me.cmdline()
        children = me.children()
    except (psutil.Error, OSError):
        return [me.pid]
    forks = []
    for child in children:
        try:
            if child.cmdline() == cmdline:
                forks.append(child.pid)
        except (psutil.Error, OSError):
            continue  # gone since: nothing to measure
    return [me.pid, *forks]


def remote_worker_cpu(runner, local_workers: int) -> list[float]:
    """Locust's own figure for the workers this machine cannot measure (their heartbeat, updated
    every 10 s): workers on other hosts, and same-host workers beyond the ones we forked."""
    clients = dict(getattr(runner, "clients", None) or {})
    here = socket.gethostname() + "_"
    same_host = [c for cid, c in clients.items() if str(cid).startswith(here)]
    others = [c for cid, c in clients.items() if not str(cid).startswith(here)]
    if len(same_host) > local_workers:
        others += same_host
    readings = [getattr(c, "cpu_usage", None) for c in others]
    return [float(r) for r in readings if isinstance(r, int | float)]


class GeneratorCpu:
    """The load generator's CPU, percent of one core: its busiest process (a Locust process runs
    its users on one core: at 100 % it is the bottleneck) and all its processes on this machine
    together (what it takes from the cores the nodes share)."""

    def __init__(self) -> None:
        self._meter = ProcessCpu()
        self.read(None)  # primes every process: the first row measures the last interval

    def read(self, runner) -> tuple[float | None, float | None]:
        """(busiest process, all processes on this machine); None where nothing was measured."""
        pids = generator_pids()
        local = [v for v in (self._meter.read(pid) for pid in pids) if v is not None]
        self._meter.forget_others(set(pids))
        busiest = local + remote_worker_cpu(runner, len(pids) - 1)
        total = round(sum(local), 1) if local else None
        return (max(busiest) if busiest else None), total
