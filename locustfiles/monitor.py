"""The live dashboard: every few seconds, node health, resources and throughput in one line.

Runs as a greenlet on the master (or the only process). Each tick also becomes a row of the
monitor series kept for the report, and refreshes which nodes are alive (workers get that by
message, so their users judge "a file on a reachable node" the same way). CPU figures (the
machine's, the load generator's, each node's) are measured here at every tick (cpumeter.py).
A node whose network serves Prometheus metrics (its definition's ``node.metrics``) is read from
a scrape, made alongside the health probes, wherever it runs (metricsmeter.py); a node without
them, from its local process by psutil (cpumeter.py, memmeter.py).
"""

from __future__ import annotations

import sys
import time

import gevent
import psutil
from locust.runners import MasterRunner

from networks.adapter import ALIVE, PEERS, Refused, Unavailable
from networks.definition import load_network, metrics_url
from reports.samples import between, percentile

from . import console
from .cpumeter import GeneratorCpu, MachineCpu, ProcessCpu
from .memmeter import ProcessMemory
from .metricsmeter import ScrapedResources, scrape
from .samples import REPORT_LAG_S

INTERVAL_S = 2.0
PROBE_TIMEOUT_S = 0.5
LIVENESS_MESSAGE = "peerload_liveness"
DOWNLOAD_OPS = ("download", "node_download")


def share_liveness(environment, state) -> None:
    """Tell workers which nodes are alive and which are cut off (their users judge by it), and
    whether a level's burst is on (their users skip think time)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner) and runner.clients:
        data = {
            "alive": sorted(state.alive),
            "unreachable": sorted(state.unreachable),
            "burst": state.burst,
            "wiped": sorted(state.wiped),
        }
        runner.send_message(LIVENESS_MESSAGE, data)


class Monitor:
    def __init__(self, environment, state, interval_s: float = INTERVAL_S, out=None):
        self.environment = environment
        self.state = state
        self.interval_s = interval_s
        self.out = out  # None: our console stream (stderr with --json)
        self._procs: dict[int, psutil.Process] = {}
        self._node_cpu = ProcessCpu()
        self._memory = ProcessMemory(len(state.nodes))
        self._scraped = ScrapedResources()
        #: node -> where it serves Prometheus metrics (nodes without: psutil, when local)
        self._metrics = metrics_urls(state)
        self._ticks = 0
        self._prime()
        self._greenlet = None
        self._adapter = None  # made on first use, in the process that probes
        self._last = time.time()

    def _prime(self) -> None:
        """Start every CPU meter now, so the first row measures the interval up to it."""
        self._machine_cpu = MachineCpu()
        self._generator_cpu = GeneratorCpu()
        for node in self.state.nodes:
            if node.name in self._metrics:
                gevent.spawn(self._prime_scrape, node.name)
            elif node.pid:
                self._node_cpu.read(node.pid)

    def _prime_scrape(self, name: str) -> None:
        self._scraped.read(name, scrape(self._metrics[name]))

    def start(self) -> None:
        self._prime()
        self._last = time.time()
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=2)
            self._greenlet = None

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.interval_s)
            try:
                self.tick()
            except Exception as exc:  # the dashboard must never stop the run
                print(f"monitor: {exc}", file=sys.stderr)

    def _probe(self, node) -> tuple[dict | None, dict | None]:
        """The node's health and its view of its peers (None when it does not answer, or the
        network has no peers view)."""
        net = self._net()
        try:
            health = net.health(node)
        except (Unavailable, Refused):
            return None, None
        try:
            peers = net.peers(node) if net.has(PEERS) else None
        except (Unavailable, Refused):
            peers = None
        return {**health, "pid": health.get("pid") or node.pid}, peers

    def _net(self):
        if self._adapter is None:
            self._adapter = self.state.adapter()
        return self._adapter

    def _resources(self, name: str, pid: int | None, scrapes: dict) -> tuple[float | None, dict]:
        """CPU % of one core (None: not measured) and ``rss_mb``, ``uss_mb``, ``fds``,
        ``threads`` (those measured) of a node's process: from this tick's scrape where its
        network serves metrics (a failed scrape measures nothing), else psutil on its pid."""
        if name in self._metrics:
            job = scrapes.get(name)
            return self._scraped.read(name, job.value if job is not None and job.ready() else None)
        if not pid:
            return None, {}
        try:
            proc = self._procs.get(pid) or self._procs.setdefault(pid, psutil.Process(pid))
            cpu = self._node_cpu.read(pid)
            memory = self._memory.read(proc, self._ticks)
        except (psutil.Error, OSError):
            self._procs.pop(pid, None)
            return None, {}
        return cpu, memory

    @property
    def running(self) -> bool:
        return self._greenlet is not None

    def _probe_all(self) -> tuple[dict[str, gevent.Greenlet], dict[str, gevent.Greenlet]]:
        """Each node's probe and, where it serves metrics, its scrape, all in parallel."""
        jobs = {n.name: gevent.spawn(self._probe, n) for n in self.state.nodes}
        scrapes = {name: gevent.spawn(scrape, url) for name, url in self._metrics.items()}
        gevent.joinall([*jobs.values(), *scrapes.values()], timeout=PROBE_TIMEOUT_S * 3)
        return jobs, scrapes

    def refresh_view(self) -> None:
        """Only the Cluster page's node rows (between runs: no dashboard line, no series)."""
        (jobs, scrapes), cpu, rss = self._probe_all(), {}, {}
        for name, job in jobs.items():
            health = job.value[0] if job.successful() and job.value else None
            if health:
                cpu[name], memory = self._resources(name, health.get("pid"), scrapes)
                rss[name] = memory.get("rss_mb")
        self.state.node_view = self._node_view(jobs, cpu, rss)

    def tick(self) -> dict:
        now = time.time()
        jobs, scrapes = self._probe_all()
        cpu, rss, rtt, alive, views, more = {}, {}, {}, set(), {}, {}
        self._ticks += 1
        for name, job in jobs.items():
            health, peers = job.value if job.successful() and job.value else (None, None)
            if health:
                alive.add(name)
                cpu[name], more[name] = self._resources(name, health.get("pid"), scrapes)
                rss[name] = more[name].get("rss_mb")
            if peers is not None:  # how this node sees the network (during faults too)
                views[name] = peers
            for peer, ms in self._net().rtt_ms.get(name, {}).items():
                if (peers or {}).get(peer) == ALIVE:
                    rtt[f"{name}->{peer}"] = ms
        self.state.alive = alive
        row = self._row(now, alive, cpu, rss, rtt)
        self.state.node_view = self._node_view(jobs, cpu, rss)
        share_liveness(self.environment, self.state)
        row["views"] = views
        # Links as the nodes hold them (a node re-links around a dead neighbour): the model
        # allows a hit over any link that existed (reports/model.py).
        net = self._net()
        row["links"] = sorted(
            {tuple(sorted((a, b))) for a, peers in net.links.items() if a in views for b in peers}
        )
        for key in ProcessMemory.KEYS:  # per node, like cpu and rss_mb (docs/contracts.md)
            row[key] = {n: m[key] for n, m in sorted(more.items()) if m.get(key) is not None}
        self.state.series.append(row)
        print(self.format(row), file=self.out or console.out(), flush=True)
        return row

    def _node_view(self, jobs, cpu, rss) -> list[dict]:
        """One row per node for the web UI's Cluster tab."""
        cluster = getattr(self.environment, "peerload_cluster", None)
        process = {n["name"]: n["state"] for n in cluster.status()} if cluster else {}
        rows = []
        for node in self.state.nodes:
            job = jobs[node.name]
            health, peers = job.value if job.successful() and job.value else (None, None)
            rtts = [
                f"{peer} {ms:.1f} ms"
                for peer, ms in self._net().rtt_ms.get(node.name, {}).items()
                if (peers or {}).get(peer) == ALIVE
            ]
            seen = sum(1 for state in (peers or {}).values() if state == ALIVE)
            rows.append(
                {
                    "node": node.name,
                    # Which machine: its host's ssh name (networks.cluster --hosts) or address;
                    # the pid is on that machine (the node's own, so a restart shows).
                    "host": node.extra.get("ssh") or node.host,
                    "pid": health.get("pid", "-") if health else "-",
                    "state": ("up" if health else "down")
                    + (f" ({process[node.name]})" if node.name in process else ""),
                    "peers_alive": f"{seen}/{len(peers)}" if health and peers is not None else "-",
                    "files": health.get("files", "-") if health else "-",
                    "cpu": f"{cpu[node.name]:.0f} %" if cpu.get(node.name) is not None else "-",
                    "rss": f"{rss[node.name]:.0f} MB" if rss.get(node.name) is not None else "-",
                    "rtt": ", ".join(rtts) or "-",
                }
            )
        return rows

    def _row(self, now, alive, cpu, rss, rtt) -> dict:
        span = max(now - self._last, 1e-6)
        # Workers ship samples every 3 s: in distributed runs look a report interval back.
        lag = REPORT_LAG_S if self.state.distributed else 0.0
        recent = between(self.state.samples, self._last - lag, now - lag)
        self._last = now
        latencies = sorted(s["latency_ms"] for s in recent)
        busiest, generator = self._generator_cpu.read(self.environment.runner)
        count = lambda op: sum(1 for s in recent if s["op"] == op)  # noqa: E731
        dl_bytes = sum(s["bytes"] for s in recent if s["op"] in DOWNLOAD_OPS and s["ok"])
        return {
            "t": now,
            "elapsed_s": round(now - self.state.started, 1),
            "users": self.environment.runner.user_count if self.environment.runner else 0,
            "machine_cpu": self._machine_cpu.read(),
            "generator_cpu": busiest,
            "generator_cpu_total": generator,
            "nodes_alive": len(alive),
            "nodes_total": len(self.state.nodes),
            "rps": round(len(recent) / span, 2),
            "fail_rps": round(sum(1 for s in recent if not s["ok"]) / span, 2),
            "mean_ms": round(sum(latencies) / len(latencies), 2) if latencies else None,
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "search_rps": round(count("search") / span, 2),
            "index_rps": round(count("index") / span, 2),
            "download_mbps": round(dl_bytes / span / 1e6, 2),
            "cpu": {k: v for k, v in cpu.items() if v is not None},
            "rss_mb": {k: round(v, 1) for k, v in rss.items() if v is not None},
            "rtt_ms": rtt,
            "faults_active": list(self.state.faults_active),
        }

    @staticmethod
    def format(row: dict) -> str:
        ms = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        cpu = console.fold_nodes(row["cpu"], "%", total=True)
        pct = lambda v: "-" if v is None else f"{v:.0f}%"  # noqa: E731
        rss = console.fold_nodes(row["rss_mb"])
        return (
            f"[{row['elapsed_s']:>6.1f}s] users {row['users']:>3} | nodes "
            f"{row['nodes_alive']}/{row['nodes_total']} | {row['rps']:.1f} req/s "
            f"({row['fail_rps']:.1f} failed) mean {ms(row['mean_ms'])} ms p95 "
            f"{ms(row['p95_ms'])} ms | search {row['search_rps']:.1f}/s index "
            f"{row['index_rps']:.1f}/s dl {row['download_mbps']:.1f} MB/s | cpu {cpu} locust "
            f"{pct(row['generator_cpu_total'])} machine {pct(row['machine_cpu'])} | rss "
            f"{rss} MB | faults: {', '.join(row['faults_active']) or '-'}"
        )


def metrics_urls(state) -> dict[str, str]:
    """Where each node of the run serves Prometheus metrics: its descriptor entry's ``metrics``
    (the launcher writes it), else its network definition's ``node.metrics``; nodes with
    neither are left out."""
    try:
        definition = load_network(state.descriptor.get("network") or "builtin")
    except (ValueError, OSError):  # a descriptor naming a network not installed here
        definition = None
    urls = {node.name: metrics_url(node, definition) for node in state.nodes}
    return {name: url for name, url in urls.items() if url}
