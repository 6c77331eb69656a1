"""Monitor cost per node: one reading of every node's resources by scraping its ``/metrics``
against psutil on its pid, and the monitor's whole tick, as the network grows.

    python bench/monitor_bench.py [--sizes 10,50,100] [--rounds 5] [--topology random:d=4]
                                  [--json out.json]

For each size, a network of our node on a sparse topology, then, ``--rounds`` times, the wall
time and this process's CPU time (``time.process_time``) of:

- **scrape**: one reading of every node from its metrics URL (the descriptor's), as the monitor
  makes it: every scrape spawned at once (gevent), joined within its timeout, then each node's
  ``Monitor._resources`` over them (locustfiles/monitor.py ``_probe_all``, ``tick``);
- **psutil**: one reading of every node from its pid, as the monitor makes it for a network
  without metrics: ``Monitor._resources`` node after node (``ProcessCpu.read`` and
  ``ProcessMemory.read``, USS in turn), on a monitor whose descriptor names no metrics URL;
- **probes**: the health and peers probes of every node, all at once (``Monitor._probe``);
- **tick**: ``Monitor.tick()`` itself (probes and scrapes together, the readings, the row, the
  Cluster page's view, the links, the printed line), its parts timed by wrapping the
  instance's methods (nothing in the monitor is changed).

Printed: a Markdown table, ms per node per reading (median of the rounds) for each; the ratio
scrape / psutil; the tick's parts; and whether each cost per node stays flat from the smallest
size to the largest (within ``FLAT_RATIO`` ×). The readings alternate their order each round
(ABBA), so a drift in what else the machine runs hits all alike.

Bounded (``--rounds`` <= 20, sizes <= 200); traffic goes only to the nodes on 127.0.0.x; each
network is stopped before the next starts, also on error or Ctrl-C.
"""

from gevent import monkey

monkey.patch_all()  # the monitor runs under gevent in the Locust process; so does it here

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import gevent
from locust.env import Environment
from scale_bench import ints

from locustfiles.metricsmeter import scrape
from locustfiles.monitor import PROBE_TIMEOUT_S, Monitor
from locustfiles.runstate import RunState
from networks.cluster import Cluster
from networks.readiness import NotReady

SIZES = (10, 50, 100)
MAX_SIZE, MAX_ROUNDS = 200, 20
FILES_PER_NODE = 4  # a small catalog: the bench measures the monitor, not the corpus
PAUSE_S = 0.5  # between readings: CPU meters measure over at least their minimum span
PRIME_S = 1.0  # the monitors' priming scrapes answer
FLAT_RATIO = 1.5  # per-node cost at the largest size within this × the smallest's: flat
READINGS = ("scrape", "psutil", "probes", "tick")
PARTS = ("_probe_all", "_resources", "_row", "_node_view", "format")


def measured(fn) -> tuple[float, float]:
    """(wall s, CPU s of this process) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def scrape_reading(monitor: Monitor) -> None:
    """Every node's resources from a scrape, as a tick reads them (scrapes all at once)."""
    scrapes = {name: gevent.spawn(scrape, url) for name, url in monitor._metrics.items()}
    gevent.joinall(list(scrapes.values()), timeout=PROBE_TIMEOUT_S * 3)
    for node in monitor.state.nodes:
        monitor._resources(node.name, node.pid, scrapes)


def psutil_reading(monitor: Monitor) -> None:
    """Every node's resources by psutil on its pid, node after node, as a tick reads them."""
    monitor._ticks += 1  # USS in turn, as from row to row
    for node in monitor.state.nodes:
        monitor._resources(node.name, node.pid, {})


def probe_reading(monitor: Monitor) -> None:
    """Every node's health and peers probes, all at once, as a tick makes them."""
    jobs = [gevent.spawn(monitor._probe, node) for node in monitor.state.nodes]
    gevent.joinall(jobs, timeout=PROBE_TIMEOUT_S * 3)


def time_parts(monitor: Monitor, parts: dict[str, float]) -> None:
    """Wrap the instance's methods a tick calls so each adds its wall time to ``parts``."""
    for name in PARTS:
        method = getattr(monitor, name)

        def wrapper(*args, _method=method, _name=name, **kwargs):
            t0 = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                parts[_name] += time.perf_counter() - t0

        setattr(monitor, name, wrapper)


def without_metrics(descriptor: dict) -> dict:
    """The descriptor with no metrics URL for any node: the monitor falls back to psutil."""
    return {**descriptor, "nodes": [{**n, "metrics": None} for n in descriptor["nodes"]]}


def readings(cluster: Cluster, rounds: int, env: Environment, out: dict) -> tuple[dict, dict]:
    """Each reading ``rounds`` times on a running network: (reading -> [(wall s, CPU s)], the
    tick's parts -> wall s over all its ticks)."""
    env.peerload_cluster = cluster  # the Cluster page's process states, as an embedded run
    descriptor = cluster.descriptor
    scraping = Monitor(env, RunState(descriptor), out=io.StringIO())
    local = Monitor(env, RunState(without_metrics(descriptor)), out=io.StringIO())
    ticking = Monitor(env, RunState(descriptor), out=io.StringIO())
    parts = dict.fromkeys(PARTS, 0.0)
    time_parts(ticking, parts)
    gevent.sleep(PRIME_S)
    runs = {
        "scrape": lambda: scrape_reading(scraping),
        "psutil": lambda: psutil_reading(local),
        "probes": lambda: probe_reading(scraping),
        "tick": ticking.tick,
    }
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in READINGS}
    try:
        for r in range(rounds):
            for which in READINGS if r % 2 == 0 else reversed(READINGS):
                gevent.sleep(PAUSE_S)
                got[which].append(measured(runs[which]))
    finally:
        env.peerload_cluster = None
    last = ticking.state.series[-1]
    out["alive"], out["read"] = last["nodes_alive"], len(last["rss_mb"])  # read: scrape answered
    return got, parts


def measure(size: int, args, env: Environment) -> dict:
    """One network: each reading ``--rounds`` times; ms per node (wall, CPU) of each."""
    out: dict = {"nodes": size, "topology": args.topology}
    try:  # the network is stopped on leaving, also on error or Ctrl-C
        with Cluster(size, topology=args.topology, files_per_node=FILES_PER_NODE) as cluster:
            got, parts = readings(cluster, args.rounds, env, out)
    except NotReady as exc:  # the launcher stopped every node it had started
        out["not_ready"] = str(exc).splitlines()[0]
        return out
    for which, times in got.items():
        out[which] = {
            "wall_ms": round(1000 * statistics.median(w for w, _ in times) / size, 3),
            "cpu_ms": round(1000 * statistics.median(c for _, c in times) / size, 3),
        }
    tick_s = sum(w for w, _ in got["tick"])
    out["tick_ms"] = round(1000 * statistics.median(w for w, _ in got["tick"]), 1)
    out["tick_parts"] = {k.strip("_"): round(v / tick_s, 3) for k, v in parts.items()}
    out["tick_parts"]["other"] = round(1 - sum(parts.values()) / tick_s, 3)
    return out


def table(results: list[dict]) -> str:
    """The Markdown table: one row per network size, ms per node per reading (wall / CPU)."""
    head = (
        "| nodes | scrape (wall / CPU) | psutil (wall / CPU) | scrape / psutil CPU "
        "| probes (wall / CPU) | whole tick (wall / CPU) | tick | tick's parts (wall) |"
    )
    lines = [head, "|" + "---|" * 8]
    for r in results:
        if "tick" not in r:
            lines.append(f"| {r['nodes']} | {r.get('not_ready', 'skipped')} |")
            continue
        cell = lambda k, r=r: f"{r[k]['wall_ms']:.2f} / {r[k]['cpu_ms']:.2f} ms"  # noqa: E731
        ratio = r["scrape"]["cpu_ms"] / r["psutil"]["cpu_ms"] if r["psutil"]["cpu_ms"] else 0
        parts = ", ".join(f"{k} {v:.0%}" for k, v in r["tick_parts"].items() if v >= 0.005)
        lines.append(
            f"| {r['nodes']} | {cell('scrape')} | {cell('psutil')} | {ratio:.1f} × "
            f"| {cell('probes')} | {cell('tick')} | {r['tick_ms']:.0f} ms | {parts} |"
        )
    return "\n".join(lines)


def flatness(results: list[dict]) -> list[str]:
    """Per reading: its CPU per node at the largest size against the smallest, flat or not."""
    done = [r for r in results if "tick" in r]
    if len(done) < 2:
        return ["flat: not judged (fewer than two sizes measured)"]
    small, large = done[0], done[-1]
    lines = []
    for which in READINGS:
        a, b = small[which]["cpu_ms"], large[which]["cpu_ms"]
        ratio = b / a if a else float("inf")
        verdict = "flat" if ratio <= FLAT_RATIO else "grows"
        lines.append(
            f"{which}: CPU per node {a:.2f} ms at {small['nodes']} nodes, {b:.2f} ms at "
            f"{large['nodes']}: {ratio:.2f} × ({verdict}, within {FLAT_RATIO} ×)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python bench/monitor_bench.py", description=__doc__)
    p.add_argument("--sizes", type=ints, default=SIZES, help="network sizes (default 10,50,100)")
    p.add_argument("--rounds", type=int, default=5, help="readings of each kind (default 5)")
    p.add_argument("--topology", default="random:d=4", help="topology (default random:d=4)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    if not 1 <= args.rounds <= MAX_ROUNDS or max(args.sizes) > MAX_SIZE:
        p.error(f"--rounds 1..{MAX_ROUNDS}, --sizes up to {MAX_SIZE}")
    env = Environment(user_classes=[])
    env.create_local_runner()
    results: list[dict] = []
    try:
        for size in sorted(set(args.sizes)):
            if any("not_ready" in r for r in results):
                results.append({"nodes": size, "not_ready": "skipped"})
                continue
            results.append(measure(size, args, env))
            print(f"{size} nodes: {json.dumps(results[-1])}", flush=True)
    finally:
        env.runner.quit()
    print()
    print(table(results))
    print()
    print("\n".join(flatness(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
