"""Prometheus metrics of one node process, served at ``GET /metrics`` (node/api.py).

One ``CollectorRegistry`` per node (never prometheus-client's global default registry, which
every importer shares: a test process that builds several nodes would add them up), in this
process's memory only: no multiprocess mode, whose files pile up when nodes crash and restart,
and no ``start_http_server``, whose thread would become a greenlet under gevent. The node's own
HTTP server answers the scrape.

Counted where the work already passes through one place (a line or two in each module):

- HTTP requests by method, route *template* (``/files/<name>``, never the raw path) and status,
  and their duration: a WSGI wrapper around the Bottle app (node/server.py);
- searches this node originated, and flooded queries relayed to it (node/flood.py);
- peer messages sent, by operation and outcome (node/peerclient.py), and received, by
  operation (the peer operations, node/server.py);
- downloads by direction (``in``: pulls this node made, ``out``: streams it served) and
  outcome, and their bytes (node/transfer.py);
- peers by state, neighbours and files, read from the node when scraped;
- the process: CPU seconds, RSS, open FDs, start time (prometheus-client's process collector,
  from /proc), threads and USS (read here from /proc/self).

Labels take values from short fixed sets only (route templates, status codes, operation names,
outcomes), so the number of series stays bounded whatever the traffic.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector

#: The text exposition format ``generate_latest`` writes.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: Internal (bench/metrics_bench.py's baseline): a node started with this set to 1 counts
#: nothing; ``/metrics`` then has the process and state gauges only.
OFF_ENV = "_PEERLOAD_METRICS_OFF"
#: Request durations (seconds): a local answer takes ~1 ms, a flooded search tens.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The route label of a request no route matched (404, 405, a partitioned peer's 503).
UNMATCHED = "unmatched"
IN, OUT = "in", "out"  # a download's direction: pulled by this node, served by it
OK, ERROR = "ok", "error"
PEER_STATES = ("alive", "suspect", "dead")
PROC_SELF = "/proc/self"

# ``_created`` series would double the output for a timestamp no dashboard of ours reads.
disable_created_metrics()


class NodeMetrics:
    """The registry and the counters of one node; ``watch`` adds the gauges read from it."""

    counting = True

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        ProcessCollector(registry=reg)
        reg.register(ProcessExtras())
        self._requests = Counter(
            "peerload_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=reg,
        )
        self._latency = Histogram(
            "peerload_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self._searches = Counter(
            "peerload_searches", "Searches this node originated (GET /search).", registry=reg
        )
        self._partial = Counter(
            "peerload_searches_partial",
            "Searches this node originated whose answer was partial (a peer did not answer).",
            registry=reg,
        )
        self._relays = Counter(
            "peerload_relays",
            "Flooded queries peers sent this node, by copy: new, farther (more TTL than an "
            "earlier copy), duplicate.",
            ("copy",),
            registry=reg,
        )
        self._sent = Counter(
            "peerload_peer_messages_sent",
            "Peer messages this node sent, by operation and outcome "
            "(ok, refused, timeout, dropped, bad).",
            ("op", "outcome"),
            registry=reg,
        )
        self._received = Counter(
            "peerload_peer_messages_received",
            "Peer messages this node answered (wire frames and REST), by operation.",
            ("op",),
            registry=reg,
        )
        self._downloads = Counter(
            "peerload_downloads",
            "Downloads, by direction (in: pulled by this node, out: served to a peer) and "
            "outcome (ok, error).",
            ("direction", "outcome"),
            registry=reg,
        )
        self._bytes = Counter(
            "peerload_download_bytes",
            "File bytes moved by downloads, by direction (in, out).",
            ("direction",),
            registry=reg,
        )
        self._children: dict[tuple, object] = {}  # (metric, *labels) -> its child

    def _child(self, metric, *labels: str):
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, metric.labels(*labels))
        return child

    # -- the seams ---------------------------------------------------------------------------
    def wsgi(self, app: Callable) -> Callable:
        """``app`` (the Bottle app) with every request counted and timed by route template."""
        requests, latency, child = self._requests, self._latency, self._child

        def counted(environ, start_response):
            started = time.perf_counter()
            status = []

            def starting(line, headers, exc_info=None):
                status.append(line)
                return start_response(line, headers, exc_info)

            try:
                return app(environ, starting)
            finally:
                route = environ.get("bottle.route")
                method, rule = (route.method, route.rule) if route else (UNMATCHED, UNMATCHED)
                code = status[-1][:3] if status else "500"
                child(requests, method, rule, code).inc()
                child(latency, method, rule).observe(time.perf_counter() - started)

        return counted

    def search(self, partial: bool) -> None:
        self._searches.inc()
        if partial:
            self._partial.inc()

    def relay(self, copy: str) -> None:
        self._child(self._relays, copy).inc()

    def sent(self, op: str, outcome: str) -> None:
        """One peer message sent: ``outcome`` is ``ok`` or the ``PeerError`` kind."""
        self._child(self._sent, op, outcome).inc()

    def received(self, op: str, run: Callable) -> Callable:
        """The peer operation ``run``, counted each time it answers a message."""
        count = self._child(self._received, op).inc

        def counted(body, sender):
            count()
            return run(body, sender)

        return counted

    def moved(self, direction: str, nbytes: int) -> None:
        """``nbytes`` of a download went ``in`` or ``out`` (counted chunk by chunk)."""
        self._child(self._bytes, direction).inc(nbytes)

    def download(self, direction: str, ok: bool) -> None:
        self._child(self._downloads, direction, OK if ok else ERROR).inc()

    # -- state and exposition -----------------------------------------------------------------
    def watch(self, node) -> None:
        """Gauges read from ``node`` (``node.server.Node``) whenever the registry is scraped."""
        self.registry.register(NodeState(node))

    def exposition(self, names: Iterable[str] = ()) -> bytes:
        """The text format; only the samples named in ``names`` when it is not empty (what
        prometheus-client's own server does with ``?name[]=``)."""
        wanted = set(names)
        return generate_latest(
            self.registry.restricted_registry(wanted) if wanted else self.registry
        )


class Off(NodeMetrics):
    """A node that counts nothing (``OFF_ENV``): the seams cost a call that returns at once."""

    counting = False

    def wsgi(self, app: Callable) -> Callable:
        return app

    def search(self, partial: bool) -> None:
        pass

    def relay(self, copy: str) -> None:
        pass

    def sent(self, op: str, outcome: str) -> None:
        pass

    def received(self, op: str, run: Callable) -> Callable:
        return run

    def moved(self, direction: str, nbytes: int) -> None:
        pass

    def download(self, direction: str, ok: bool) -> None:
        pass


class Nothing(Off):
    """What a part built on its own (a unit test's flood, client or puller) counts into."""

    def __init__(self) -> None:  # no registry: nothing is ever scraped from it
        pass


NO_METRICS = Nothing()


def for_process() -> NodeMetrics:
    """The metrics of the node this process runs (counting unless ``OFF_ENV`` says not to)."""
    return Off() if os.environ.get(OFF_ENV) == "1" else NodeMetrics()


class NodeState:
    """Peers by state, neighbours, files and the node's name, read from the node at scrape."""

    def __init__(self, node) -> None:
        self.node = node

    def collect(self):
        node = self.node
        peers = GaugeMetricFamily(
            "peerload_peers", "Members this node knows, by state.", labels=("state",)
        )
        states = [m.state for m in list(node.membership.members.values())]
        for state in PEER_STATES:
            peers.add_metric((state,), states.count(state))
        yield peers
        yield GaugeMetricFamily(
            "peerload_neighbours", "Peers this node floods to.", value=len(node.neighbours)
        )
        yield GaugeMetricFamily("peerload_files", "Files in the catalog.", value=len(node.catalog))
        info = GaugeMetricFamily(
            "peerload_node_info", "Always 1; the node's name as a label.", labels=("name",)
        )
        info.add_metric((node.config.name,), 1)
        yield info


class ProcessExtras:
    """What prometheus-client's process collector leaves out and the monitor's rows carry:
    OS threads and USS (the pages only this process holds), from /proc/self (Linux)."""

    def collect(self):
        threads = status_threads()
        if threads is not None:
            yield GaugeMetricFamily("process_threads", "OS threads of the process.", threads)
        uss = uss_bytes()
        if uss is not None:
            yield GaugeMetricFamily(
                "peerload_process_uss_bytes",
                "Unique set size: memory only this process holds (private pages).",
                uss,
            )


def status_threads(proc: str = PROC_SELF) -> int | None:
    try:
        with open(f"{proc}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


USS_FIELDS = (b"Private_Clean:", b"Private_Dirty:", b"Private_Hugetlb:")


def uss_bytes(proc: str = PROC_SELF) -> int | None:
    """Private pages, as psutil's ``uss`` counts them (~0.15 ms: smaps_rollup sums them)."""
    try:
        with open(f"{proc}/smaps_rollup", "rb") as f:
            kb = sum(int(line.split()[1]) for line in f if line.startswith(USS_FIELDS))
    except (OSError, ValueError, IndexError):
        return None
    return kb * 1024
