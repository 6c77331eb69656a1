"""Test helpers: steady-state and recovery probes over peerload's own node's HTTP API.

The fault controller's tests use them to see what a fault did (is everyone alive, does a canary
search reach everyone, how long until the survivors mark the target dead, how long until N/N
again). The harness itself asks any network through its adapter (``networks.verify``, the
Locust fault stage), so this node-specific code lives with the tests, not in ``faults/``.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from faults.httpjson import HttpError, request_json

PROBE_TIMEOUT_S = 2.0
SEARCH_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.1
DETECT_TIMEOUT_S = 30.0
RECOVER_TIMEOUT_S = 60.0
CANARY_TTL = 3
DEAD = "dead"


@dataclass
class ProbeResult:
    """A probe's verdict, a one-line summary and the per-node evidence."""

    ok: bool
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class DetectTimes:
    """Seconds from a fault's start until every survivor saw it, and from its heal to N/N."""

    target: str
    dead_after_s: float | None
    recovered_after_s: float | None


def nodes_of(descriptor: Mapping[str, Any]) -> dict[str, str]:
    """name -> base HTTP URL."""
    return {n["name"]: n["http"].rstrip("/") for n in descriptor["nodes"]}


def get(url: str, timeout: float = PROBE_TIMEOUT_S) -> dict[str, Any] | None:
    """GET JSON, or None when the node does not answer properly (down, frozen, cut off)."""
    try:
        return request_json("GET", url, timeout=timeout)
    except HttpError:
        return None


def health(descriptor: Mapping[str, Any], *, timeout: float = PROBE_TIMEOUT_S) -> dict[str, Any]:
    """name -> the node's /health answer, or None."""
    return {name: get(f"{url}/health", timeout) for name, url in nodes_of(descriptor).items()}


def all_alive(descriptor: Mapping[str, Any], *, timeout: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Every node answers /health with status ok and sees all N-1 peers alive."""
    answers = health(descriptor, timeout=timeout)
    expected = len(answers) - 1
    seen = {name: (None if h is None else h.get("peers_alive")) for name, h in answers.items()}
    ok = all(h is not None and h.get("status") == "ok" for h in answers.values()) and all(
        v == expected for v in seen.values()
    )
    views = ", ".join(f"{n}:{'down' if v is None else f'{v}/{expected}'}" for n, v in seen.items())
    summary = f"{'all alive' if ok else 'not all alive'} ({views})"
    return ProbeResult(ok, summary, {"peers_alive": seen})


def canary_search(
    descriptor: Mapping[str, Any],
    query: str,
    *,
    ttl: int = CANARY_TTL,
    require_hits: bool = True,
    origins: Iterable[str] | None = None,
    expect: Iterable[str] | None = None,
    timeout: float = SEARCH_TIMEOUT_S,
) -> ProbeResult:
    """A search from each origin reaches every expected node (default: all), and with
    ``require_hits`` gets hits from each of them: pick a query every node's corpus matches.
    During a fault, pass the survivors as ``origins`` and ``expect``: "serving with 2 of 3"."""
    urls = nodes_of(descriptor)
    expected = set(expect) if expect is not None else set(urls)
    detail: dict[str, Any] = {}
    for name in origins if origins is not None else urls:
        q = urllib.parse.urlencode({"q": query, "ttl": ttl})
        answer = get(f"{urls[name]}/search?{q}", timeout)
        if answer is None:
            detail[name] = {"ok": False, "error": "no answer"}
            continue
        hits_from = {r.get("node") for r in answer.get("results", [])} - {None}
        reached = answer.get("reached", 0)
        names = answer.get("nodes")
        reached_ok = expected <= set(names) if isinstance(names, list) else reached >= len(expected)
        ok = reached_ok and (not require_hits or expected <= hits_from)
        detail[name] = {
            "ok": ok,
            "reached": reached,
            "hits_from": sorted(hits_from),
            "partial": answer.get("partial"),
        }
    ok = bool(detail) and all(d["ok"] for d in detail.values())
    bad = sorted(n for n, d in detail.items() if not d["ok"])
    summary = f"canary {query!r} reached {', '.join(sorted(expected))} from every origin"
    if not ok:
        summary = f"canary {query!r} fell short from {', '.join(bad) or 'nowhere'}"
    return ProbeResult(ok, summary, detail)


def peer_views(
    descriptor: Mapping[str, Any],
    *,
    observers: Iterable[str] | None = None,
    timeout: float = PROBE_TIMEOUT_S,
) -> dict[str, dict[str, str] | None]:
    """observer -> {peer: alive|suspect|dead} from its /peers, or None if it does not answer."""
    urls = nodes_of(descriptor)
    views: dict[str, dict[str, str] | None] = {}
    for name in observers if observers is not None else urls:
        answer = get(f"{urls[name]}/peers", timeout)
        views[name] = (
            None
            if answer is None
            else {p.get("name"): p.get("state") for p in answer.get("peers", [])}
        )
    return views


def wait_for(
    check: Callable[[], bool], *, since: float, timeout: float, interval: float = POLL_INTERVAL_S
) -> float | None:
    """Poll ``check`` until true; seconds from ``since`` (a monotonic time), or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return time.monotonic() - since
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def marked(descriptor: Mapping[str, Any], target: str, states: Iterable[str] = (DEAD,)) -> bool:
    """Every other node that answers sees ``target`` in one of ``states`` (and one answers)."""
    wanted = set(states)
    others = [n for n in nodes_of(descriptor) if n != target]
    views = [v for v in peer_views(descriptor, observers=others).values() if v is not None]
    return bool(views) and all(v.get(target) in wanted for v in views)


def time_until_marked(
    descriptor: Mapping[str, Any],
    target: str,
    *,
    since: float,
    states: Iterable[str] = (DEAD,),
    timeout: float = DETECT_TIMEOUT_S,
) -> float | None:
    """Seconds from ``since`` until the survivors mark ``target`` dead (or None)."""
    states = tuple(states)
    return wait_for(lambda: marked(descriptor, target, states), since=since, timeout=timeout)


def time_until_all_alive(
    descriptor: Mapping[str, Any], *, since: float, timeout: float = RECOVER_TIMEOUT_S
) -> float | None:
    """Seconds from ``since`` until every node sees N-1 peers alive again (or None)."""
    return wait_for(lambda: all_alive(descriptor).ok, since=since, timeout=timeout)


def detect_times(
    descriptor: Mapping[str, Any],
    target: str,
    *,
    started_at: float,
    healed_at: float,
    states: Iterable[str] = (DEAD,),
    recover_timeout: float = RECOVER_TIMEOUT_S,
) -> DetectTimes:
    """Both measures for one fault, given its start and (scheduled) heal as monotonic times:
    detection is polled until the heal, recovery from the heal on."""
    dead_after = time_until_marked(
        descriptor,
        target,
        since=started_at,
        states=states,
        timeout=max(0.0, healed_at - time.monotonic()),
    )
    time.sleep(max(0.0, healed_at - time.monotonic()))
    recovered = time_until_all_alive(descriptor, since=healed_at, timeout=recover_timeout)
    return DetectTimes(target, dead_after, recovered)
