"""Small fixtures shared by test modules: a raw request sample, a fault plan."""

from __future__ import annotations

# n2 cut off from the others for 30 s: long enough to still be active when a test interrupts it.
LONG_PARTITION = """
version = 1
backend = "control"
[[fault]]
id = "cut"
kind = "partition"
target = "n2"
at = "0s"
duration = "30s"
"""


def req(
    t: float,
    *,
    ok: bool = True,
    op: str = "search",
    proto: str = "rest",
    lat: float = 100.0,
    error: str = "timeout",
) -> dict:
    """One raw sample as the Locust suite records it (docs/contracts.md)."""
    return {
        "t": t,
        "op": op,
        "proto": proto,
        "node": "n1",
        "latency_ms": lat,
        "bytes": 0,
        "ok": ok,
        "error": None if ok else error,
        "users": 5,
    }


def win(
    name: str,
    kind: str,
    start: float,
    end: float,
    *,
    users: int | None = 5,
    fault_id: str | None = None,
    fault_kind: str | None = None,
    target: str | None = None,
) -> dict:
    """One window as the suite records it (docs/contracts.md)."""
    return {
        "name": name,
        "kind": kind,
        "start": start,
        "end": end,
        "users": users,
        "fault_id": fault_id,
        "fault_kind": fault_kind,
        "target": target,
    }
