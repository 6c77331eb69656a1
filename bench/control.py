"""Small HTTP helpers of the node benchmark for control-plane calls (not load): JSON GET/POST,
peer states, polling until a condition holds on several nodes at once."""

import json
import time
from collections.abc import Callable

POLL_S = 0.01


def http_json(url: str, method: str = "GET", timeout: float = 2.0) -> dict:
    import urllib.request

    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as answer:
        return json.loads(answer.read())


def peer_states(url: str) -> dict[str, str]:
    return {p["name"]: p["state"] for p in http_json(f"{url}/peers", timeout=0.5)["peers"]}


def wait_until(
    predicate: Callable[[], bool], timeout: float, interval: float = POLL_S
) -> float | None:
    """Poll ``predicate`` (exceptions count as False); seconds it took, or None on timeout."""
    started = time.monotonic()
    deadline = started + timeout
    for _ in range(int(timeout / interval) + 10):
        try:
            if predicate():
                return time.monotonic() - started
        except (OSError, ValueError, KeyError):
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)
    return None


def watch_many(
    observers: dict[str, str], predicate: Callable[[str], bool], timeout: float, since: float
) -> dict[str, float | None]:
    """For each observer (name -> url), seconds from ``since`` until ``predicate(url)`` holds."""
    import gevent

    result: dict[str, float | None] = {}

    def watch(name: str, url: str) -> None:
        took = wait_until(lambda: predicate(url), timeout - (time.monotonic() - since))
        result[name] = None if took is None else time.monotonic() - since

    gevent.joinall([gevent.spawn(watch, n, u) for n, u in observers.items()], timeout=timeout + 2)
    return {n: result.get(n) for n in observers}
