"""Small fixtures shared by test modules: raw request samples, windows, the faults side's
results, a run status, monitor rows, a fault plan."""

from __future__ import annotations

from reports.synthetic import run_status

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
    **facts,
) -> dict:
    """One raw sample as the Locust suite records it (docs/contracts.md); ``facts`` adds the
    optional fields (``violation``, ``term``, ``ttl``, ``hits``, ``partial``, ...)."""
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
        **facts,
    }


def spread(start: float, end: float, n_ok: int, n_fail: int = 0, **kw) -> list[dict]:
    """n_ok successes then n_fail failures, evenly spread over [start, end)."""
    n = n_ok + n_fail
    step = (end - start) / max(n, 1)
    return [req(start + i * step, ok=i < n_ok, **kw) for i in range(n)]


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
    **extra,
) -> dict:
    """One window as the suite records it (docs/contracts.md); ``extra``: ``burst_start``,
    ``takes_down``."""
    return {
        "name": name,
        "kind": kind,
        "start": start,
        "end": end,
        "users": users,
        "fault_id": fault_id,
        "fault_kind": fault_kind,
        "target": target,
        **extra,
    }


def fault_win(
    target: str, start: float, end: float, kind: str = "crash", fault_id: str = "", **extra
) -> dict:
    """A fault window named like the suite's (``fault:ID:TARGET``; the id defaults to the
    kind), taking its target down unless ``takes_down=False``."""
    extra.setdefault("takes_down", True)
    fault_id = fault_id or kind
    name = f"fault:{fault_id}:{target}"
    return win(
        name, "fault", start, end, fault_id=fault_id, fault_kind=kind, target=target, **extra
    )


def fault_result(window: dict, **fields) -> dict:
    """The faults side's entry for a fault window (``fields``: ``detected_s``,
    ``recovered_s``, ``service_recovered_s``, ``service_measured``, ...)."""
    return {"fault_id": window["fault_id"], "target": window["target"], **fields}


def status(**changes) -> dict:
    """The run status of a run that went through every stage, checked whole before and after."""
    return {**run_status(), **changes}


def rows(times, alive: int = 3, total: int = 3, **columns) -> list[dict]:
    """Monitor rows at ``times`` with the same node counts and ``columns``."""
    return [{"t": t, "nodes_alive": alive, "nodes_total": total, **columns} for t in times]


def only(results: list, window: str | None = None):
    """The one result row (of ``window``, if given)."""
    picked = [r for r in results if window is None or r.window == window]
    assert len(picked) == 1, picked
    return picked[0]


#: How the control backend's partition step failed on a network without peerload's /admin API.
ADMIN_404 = "HttpError: n3: POST http://127.0.0.13:8003/admin/partition: 404 Not Found"


def fail_steps(run: dict, fault_id: str, target: str, error: str = ADMIN_404) -> dict:
    """``run`` (a synthetic run) with every journal step of one fault failed, as the runner
    journals a step that raised: its start, its heal, all of them."""
    for step in run["journal"]:
        if (step["fault_id"], step["target"]) == (fault_id, target):
            step.update(outcome="error", error=error)
    return run
