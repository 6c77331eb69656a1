"""Metrics cost: a node's flooded-search throughput with its Prometheus counting on, against a
baseline measured in the same run with counting off.

    python bench/metrics_bench.py [--seconds 3] [--rounds 2] [--clients 10]

Two 3-node clusters of peerload's node run side by side: one started with the internal switch
that turns counting off (``node.metrics.OFF_ENV``: its ``/metrics`` then has the process figures
only), one as shipped. The load goes to one cluster at a time, in ABBA order each round (off,
on, on, off), so a drift in what else the machine runs hits both alike. Each leg: closed-loop
clients on keep-alive connections sending ``GET /search?q=alpha&ttl=3`` to n1 (a flood over all
three nodes: every request, relay and peer message is counted on the "on" cluster). Reported:
req/s and p50 of each, the on/off ratio of req/s and of the nodes' CPU per search (the
steadier figure on a shared machine), and a full scrape's size and time on the loaded node.

Bounded in count and time (``--rounds`` <= 5, ``--seconds`` <= 30, ``--clients`` <= 64);
traffic goes only to 127.0.0.x; both clusters are stopped in ``finally``.
"""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import psutil
from loadgen import run_load

from networks.cluster import Cluster
from node.metrics import OFF_ENV

SEARCH = "/search?q=alpha&ttl=3"
WARMUP_S = 0.5
MAX_ROUNDS, MAX_SECONDS, MAX_CLIENTS = 5, 30.0, 64
SCRAPES = 20


def node_cpu_s(cluster: Cluster) -> float:
    """CPU seconds the cluster's node processes have used so far."""
    total = 0.0
    for node in cluster.nodes.values():
        try:
            times = psutil.Process(node.proc.pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def leg(cluster: Cluster, seconds: float, clients: int) -> dict:
    """One burst of searches on n1 of ``cluster``: req/s, p50 and the nodes' CPU per search."""
    cpu0 = node_cpu_s(cluster)
    result = run_load(cluster.nodes["n1"].http, SEARCH, clients, seconds, WARMUP_S)
    cpu = node_cpu_s(cluster) - cpu0  # warm-up included: per request sent, not per counted one
    sent = result["requests"] * (seconds + WARMUP_S) / seconds
    return {
        "rps": result["rps"],
        "p50_ms": result["p50_ms"],
        "errors": result["errors"],
        "cpu_ms_per_search": 1000 * cpu / sent if sent else float("nan"),
    }


def scrape_cost(url: str) -> dict:
    """A full ``GET /metrics``: its size and median time over ``SCRAPES`` scrapes."""
    times, size = [], 0
    for _ in range(SCRAPES):
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
            size = len(answer.read())
        times.append(time.perf_counter() - t0)
    return {"bytes": size, "p50_ms": round(1000 * statistics.median(times), 2)}


def counted_searches(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics?name[]=peerload_searches_total", timeout=5) as a:
        for line in a.read().decode().splitlines():
            if line.startswith("peerload_searches_total "):
                return float(line.split()[1])
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=3.0, help="each leg's measured seconds")
    p.add_argument("--rounds", type=int, default=2, help="ABBA rounds (4 legs each)")
    p.add_argument("--clients", type=int, default=10, help="concurrent closed-loop clients")
    p.add_argument("--json", type=Path, help="also write the figures here")
    a = p.parse_args(argv)
    if not (1 <= a.rounds <= MAX_ROUNDS and 0 < a.seconds <= MAX_SECONDS):
        p.error(f"--rounds 1..{MAX_ROUNDS}, --seconds up to {MAX_SECONDS}")
    if not 1 <= a.clients <= MAX_CLIENTS:
        p.error(f"--clients 1..{MAX_CLIENTS}")

    clusters: dict[str, Cluster] = {}
    try:
        os.environ[OFF_ENV] = "1"  # read by the nodes when they start
        try:
            clusters["off"] = Cluster(3, files_per_node=20).start_all()
        finally:
            del os.environ[OFF_ENV]
        clusters["on"] = Cluster(3, files_per_node=20).start_all()
        legs: dict[str, list[dict]] = {"off": [], "on": []}
        for r in range(a.rounds):
            for which in ("off", "on", "on", "off"):
                legs[which].append(leg(clusters[which], a.seconds, a.clients))
                print(f"round {r + 1} {which:>3}: {json.dumps(legs[which][-1])}", flush=True)
        on_url, off_url = clusters["on"].nodes["n1"].http, clusters["off"].nodes["n1"].http
        counted = {"on": counted_searches(on_url), "off": counted_searches(off_url)}
        scrape = scrape_cost(on_url)
    finally:
        for cluster in clusters.values():
            cluster.close()

    def median(which: str, key: str) -> float:
        return statistics.median(x[key] for x in legs[which])

    pairs = [  # the two legs of each kind in a round, paired in ABBA order
        (legs["on"][i]["rps"] / legs["off"][i]["rps"]) for i in range(len(legs["on"]))
    ]
    figures = {
        "rps_off": round(median("off", "rps"), 1),
        "rps_on": round(median("on", "rps"), 1),
        "rps_ratio_on_off": round(median("on", "rps") / median("off", "rps"), 3),
        "rps_ratio_per_leg": [round(x, 3) for x in pairs],
        "p50_ms_off": round(median("off", "p50_ms"), 2),
        "p50_ms_on": round(median("on", "p50_ms"), 2),
        "cpu_ms_per_search_off": round(median("off", "cpu_ms_per_search"), 3),
        "cpu_ms_per_search_on": round(median("on", "cpu_ms_per_search"), 3),
        "cpu_ratio_on_off": round(
            median("on", "cpu_ms_per_search") / median("off", "cpu_ms_per_search"), 3
        ),
        "errors": sum(x["errors"] for x in legs["on"] + legs["off"]),
        "searches_counted_on_n1": counted,
        "full_scrape": scrape,
        "seconds": a.seconds,
        "rounds": a.rounds,
        "clients": a.clients,
    }
    print(json.dumps(figures, indent=2))
    if a.json:
        a.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
