"""Membership at scale: for each N, start N of our nodes, then measure how long until every
node sees every other alive, the idle network's CPU and memory, and how long until every
survivor marks a SIGKILLed and a SIGSTOPped node dead (and the frozen one alive again after
SIGCONT).

    python bench/membership_bench.py [--nodes 3 25 100] [--idle-s 15] [--degree 3]

Each node joins through ``--degree`` random earlier nodes (a random connected graph, not a full
mesh). CPU is read from the kernel's per-thread run times (``/proc/PID/task/*/schedstat``, in
ns) over the idle window, as % of one core, next to the baseline measured in the same run: one
lone node (no members) in the same window, times N. One network at a time; every node is
killed at the end.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.topology import Graph, topology  # noqa: E402 - after the path above

POLL_S = 0.05
READY_TIMEOUT_S = 120.0
DETECT_TIMEOUT_S = 30.0
SETTLE_S = 3.0
LONE = "lone"


def cpu_s(pid: int) -> float:
    """Seconds of CPU a process's threads have run, from the kernel's ns counters."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def views(graph: Graph, observers: list[str], pool: ThreadPoolExecutor) -> list[dict[str, str]]:
    return list(pool.map(graph.states, observers))


def wait_until(check, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(POLL_S)
    return None


def marked(graph: Graph, target: str, observers: list[str], pool, state: str) -> bool:
    return all(v.get(target) == state for v in views(graph, observers, pool))


def measure(n: int, idle_s: float, degree: int, seed: int) -> dict:
    rng = random.Random(seed)
    names = [f"n{i + 1}" for i in range(n)]
    boot = {name: rng.sample(names[:i], min(degree, i)) for i, name in enumerate(names)}
    boot[LONE] = []
    result: dict = {"nodes": n}
    with tempfile.TemporaryDirectory(prefix="membench-") as tmp, ThreadPoolExecutor(16) as pool:
        started = time.monotonic()
        with topology(Path(tmp), boot) as graph:
            result["started_s"] = time.monotonic() - started  # every process up and listening
            everyone = lambda: all(  # noqa: E731
                sum(s == "alive" for s in v.values()) == n - 1 for v in views(graph, names, pool)
            )
            ready = wait_until(everyone, READY_TIMEOUT_S)
            result["ready_s"] = None if ready is None else time.monotonic() - started
            time.sleep(SETTLE_S)
            pids = {name: graph.procs[name].pid for name in boot}
            before = {name: cpu_s(pid) for name, pid in pids.items()}
            time.sleep(idle_s)
            used = {name: (cpu_s(pid) - before[name]) / idle_s * 100 for name, pid in pids.items()}
            lone = used.pop(LONE)
            result["idle_cpu_pct"] = sum(used.values())
            result["baseline_cpu_pct"] = lone * n
            pss = [psutil.Process(pids[name]).memory_full_info().pss / 1e6 for name in names]
            result["pss_mb_median"], result["pss_mb_max"] = statistics.median(pss), max(pss)
            if n >= 3:
                killed, frozen = rng.sample(names, 2)
                rest = [x for x in names if x not in (killed, frozen)]
                graph.signal(killed, signal.SIGKILL)
                survivors = [x for x in names if x != killed]
                result["sigkill_dead_s"] = wait_until(
                    lambda: marked(graph, killed, survivors, pool, "dead"), DETECT_TIMEOUT_S
                )
                graph.signal(frozen, signal.SIGSTOP)
                result["sigstop_dead_s"] = wait_until(
                    lambda: marked(graph, frozen, rest, pool, "dead"), DETECT_TIMEOUT_S
                )
                graph.signal(frozen, signal.SIGCONT)
                result["sigcont_alive_s"] = wait_until(
                    lambda: marked(graph, frozen, rest, pool, "alive"), DETECT_TIMEOUT_S
                )
    return result


def show(r: dict) -> str:
    def f(key: str, fmt: str = "{:.2f}") -> str:
        return "never" if r.get(key) is None else fmt.format(r[key])

    ratio = r["idle_cpu_pct"] / r["baseline_cpu_pct"] if r["baseline_cpu_pct"] else float("nan")
    return (
        f"N={r['nodes']:>3}  up {r['started_s']:.1f} s, ready {f('ready_s', '{:.1f}')} s  idle CPU "
        f"{r['idle_cpu_pct']:.1f} % of a core (lone-node baseline x N {r['baseline_cpu_pct']:.1f} "
        f"%, ratio {ratio:.2f})  PSS median {r['pss_mb_median']:.1f} MB max "
        f"{r['pss_mb_max']:.1f} MB  SIGKILL dead {f('sigkill_dead_s')} s  SIGSTOP dead "
        f"{f('sigstop_dead_s')} s  back after SIGCONT {f('sigcont_alive_s')} s"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--nodes", type=int, nargs="+", default=[3, 25, 100])
    p.add_argument("--idle-s", type=float, default=15.0)
    p.add_argument("--degree", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    if not all(2 <= n <= 200 for n in a.nodes) or a.idle_s <= 0 or a.degree < 1:
        p.error("--nodes 2..200 each, --idle-s > 0, --degree >= 1")
    for n in a.nodes:
        print(show(measure(n, a.idle_s, a.degree, a.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
