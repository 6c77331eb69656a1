"""A node's CPU, memory and handles from its Prometheus metrics, for the monitor's rows.

Where a network's definition names a metrics endpoint (``node.metrics``, docs/networks.md; the
descriptor carries each node's URL), the monitor reads these from a scrape instead of psutil, so
nodes on other machines get them too; psutil stays the reading for local processes of networks
without one. Names are prometheus-client's process collector's (any client library's, mostly):

- ``process_cpu_seconds_total`` -> ``cpu``, percent of one core since the previous scrape of
  that node (the first: over the process's life so far, from ``process_start_time_seconds``;
  a changed start time is a restarted process), as ``cpumeter.ProcessCpu`` measures it;
- ``process_resident_memory_bytes`` -> ``rss_mb``; ``process_open_fds`` -> ``fds``;
- ``process_threads`` -> ``threads`` and ``peerload_process_uss_bytes`` -> ``uss_mb`` where the
  node serves them (ours does: node/metrics.py).

A scrape that fails (no answer within ``SCRAPE_TIMEOUT_S``, an HTTP error, no such sample) is a
gap: None, left out of the row, never a zero.
"""

from __future__ import annotations

import math
import time
import urllib.parse
import urllib.request

from .cpumeter import MIN_SPAN_S
from .memmeter import MB

SCRAPE_TIMEOUT_S = 0.5
#: A scrape larger than this is cut: the samples the monitor reads come first in ours.
MAX_SCRAPE_BYTES = 4 * MB
CPU = "process_cpu_seconds_total"
START = "process_start_time_seconds"
RSS = "process_resident_memory_bytes"
FDS = "process_open_fds"
THREADS = "process_threads"
USS = "peerload_process_uss_bytes"
WANTED = (CPU, START, RSS, FDS, THREADS, USS)
#: A process whose start time moved by more than this is another process (a restart).
SAME_START_S = 0.5
AT = "_at"  # when a scrape's answer arrived (monotonic seconds), kept with its samples

#: No proxy: nodes are reached directly, whatever the environment's http_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def parse(text: str, names: tuple[str, ...] = WANTED) -> dict[str, float]:
    """The unlabelled samples named in ``names`` from the Prometheus text format (or
    OpenMetrics): name -> value; a sample that is absent, labelled or not a finite number is
    left out."""
    wanted = set(names)
    found: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name, _, rest = line.partition(" ")
        if name.endswith("{}"):
            name = name[:-2]
        if name not in wanted:
            continue
        try:
            value = float(rest.split()[0])
        except (ValueError, IndexError):
            continue
        if math.isfinite(value):
            found[name] = value
    return found


def scrape_url(url: str, names: tuple[str, ...] = WANTED) -> str:
    """``url`` asking for ``names`` only (``?name[]=``, as prometheus-client's servers filter);
    an endpoint that ignores it answers everything and ``parse`` picks them out."""
    query = urllib.parse.urlencode([("name[]", n) for n in names])
    return url + ("&" if "?" in url else "?") + query


def scrape(url: str, timeout: float = SCRAPE_TIMEOUT_S) -> dict[str, float] | None:
    """The process samples at ``url`` (with ``AT``: when they arrived), or None when the
    scrape failed. Cooperative under gevent's monkey-patching (the Locust process)."""
    request = urllib.request.Request(scrape_url(url), headers={"Accept": "text/plain"})
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            raw = answer.read(MAX_SCRAPE_BYTES)
    except (OSError, ValueError):  # refused, timed out, HTTP error (URLError is an OSError)
        return None
    samples = parse(raw.decode("utf-8", "replace"))
    return {**samples, AT: time.monotonic()} if samples else None


class ScrapedResources:
    """Turns each node's scrapes into the monitor's readings: CPU percent of one core since
    the previous scrape of that node, and ``rss_mb``, ``uss_mb``, ``fds``, ``threads``."""

    def __init__(self) -> None:
        #: node -> (start time, CPU seconds, monotonic time) of its previous scrape
        self._last: dict[str, tuple[float | None, float, float]] = {}

    def read(self, node: str, samples: dict[str, float] | None) -> tuple[float | None, dict]:
        """(CPU percent or None, {key: value} of what the scrape had); (None, {}) for a
        failed scrape: a gap, and the next scrape measures CPU since the last good one."""
        if not samples:
            return None, {}
        memory = {}
        if RSS in samples:
            memory["rss_mb"] = samples[RSS] / MB
        if USS in samples:
            memory["uss_mb"] = round(samples[USS] / MB, 1)
        if FDS in samples:
            memory["fds"] = int(samples[FDS])
        if THREADS in samples:
            memory["threads"] = int(samples[THREADS])
        return self._cpu(node, samples), memory

    def _cpu(self, node: str, samples: dict[str, float]) -> float | None:
        used, started, now = samples.get(CPU), samples.get(START), samples[AT]
        if used is None:
            return None
        last = self._last.get(node)
        self._last[node] = (started, used, now)
        restarted = last is not None and (
            (started is not None and last[0] is not None and abs(started - last[0]) > SAME_START_S)
            or used < last[1]
        )
        if last is None or restarted:
            if started is None:
                return None  # nothing to measure the first reading over
            used0, span = 0.0, time.time() - started
        else:
            used0, span = last[1], now - last[2]
        if span < MIN_SPAN_S:
            return None
        return round(max(0.0, 100.0 * (used - used0) / span), 1)
