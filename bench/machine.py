"""Process accounting of the node benchmark: CPU per phase of each node, of this process and of
everything else on the machine; waiting for the machine to go quiet; RSS of the nodes."""

import os
import time

PIDS: dict[str, int] = {}  # node name -> pid, filled in by the entry point


def cpu_snapshot() -> dict:
    import psutil

    t = psutil.cpu_times()
    snap = {"_wall": time.perf_counter(), "_busy": sum(t) - t.idle - getattr(t, "iowait", 0.0)}
    for name, pid in {**PIDS, "bench": os.getpid()}.items():
        try:
            t = psutil.Process(pid).cpu_times()
            snap[name] = t.user + t.system
        except psutil.Error:
            pass
    return snap


def cpu_delta(a: dict, b: dict) -> dict:
    """CPU % (100 = one core) of each node and this process; ``other``: the rest of the machine
    (other processes competing for the same cores make every figure here lower)."""
    wall = b["_wall"] - a["_wall"]
    out = {k: round(100 * (b[k] - a[k]) / wall, 1) for k in a if k[0] != "_" and k in b}
    busy = 100 * (b["_busy"] - a["_busy"]) / wall
    out["other"] = round(max(0.0, busy - sum(out.values())), 1)
    return out


def wait_quiet(limit_s: float, threshold_pct: float) -> dict:
    """Wait (at most ``limit_s``) until processes other than ours use < ``threshold_pct`` CPU
    for two 1 s windows in a row: the nodes and the load generator share the machine's cores
    with whatever else runs there. Returns what was seen, for the report."""
    import gevent

    started = time.monotonic()
    quiet, other = 0, float("nan")
    for _ in range(int(limit_s) + 2):
        a = cpu_snapshot()
        gevent.sleep(1.0)
        other = cpu_delta(a, cpu_snapshot())["other"]
        quiet = quiet + 1 if other < threshold_pct else 0
        if quiet >= 2 or time.monotonic() - started >= limit_s:
            break
    waited = round(time.monotonic() - started, 1)
    seen = {"other_cpu_pct": other, "waited_s": waited, "quiet": quiet >= min(2, int(limit_s))}
    if not seen["quiet"]:
        print(
            f"  warning: other processes still use {other:.0f}% CPU after {waited:.0f}s; "
            "figures below are depressed by them",
            flush=True,
        )
    return seen


def rss_mb(pids: dict[str, int]) -> dict[str, float]:
    import psutil

    out = {}
    for name, pid in pids.items():
        try:
            out[name] = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
        except psutil.Error:
            out[name] = float("nan")
    return out
