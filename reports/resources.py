"""Resources as evidence: each node's idle CPU, CPU per operation, memory, FD and thread growth.

A node that leaks memory with every byte it serves, or whose timers burn a core while nothing
happens, answers every request right and on time; only its resources give it away. The monitor
reads each node's CPU, RSS, USS, open file descriptors and threads at every row
(locustfiles/memmeter.py, docs/contracts.md); the samples say which node served each operation.
From those alone, per node:

- **idle CPU**: the median of the readings taken in the idle window before the first level (no
  users: what the node's own timers, probes and gossip cost);
- **CPU per 1,000 operations**: CPU seconds the node used over the levels (readings times their
  intervals) per 1,000 operations it served there (= CPU ms per operation);
- **memory growth**: a robust (Theil–Sen) line through its USS (RSS where USS was not read)
  after warm-up, i.e. after the first level and outside stress (stress raises concurrency on
  purpose, and buffers and connections grow with it to a new plateau, which is not a leak): MB
  per minute, the MB grown over that span, and MB per 1,000 operations the node served in it;
- **FD and thread growth** over the same readings, the same way.

A restarted node (a fault) starts again from a fresh process: the drop only lowers the fitted
slope, so a restart can hide a leak, never invent one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy.stats import theilslopes

from reports.evidence import LEVEL, STEADY_KINDS, STRESS, Evidence
from reports.rows import FAIL, INSUFFICIENT, PASS, PCT, REGRESSION, REPORTED, Check, Result
from reports.samples import requests
from reports.series import intervals
from reports.thresholds import Thresholds

#: The idle window's kind (before the first level, no users; docs/contracts.md).
IDLE = "idle"
PER_KOPS = 1000.0
S_PER_MIN = 60.0
#: Fewer readings than this after warm-up: no growth can be told from noise (insufficient).
MIN_READINGS = 5
#: Idle readings needed per node (one reading can be a start-up blip).
MIN_IDLE_READINGS = 2
#: The fit needs at most this many readings (evenly taken): Theil–Sen is quadratic in them.
MAX_FIT_POINTS = 300
#: Memory: USS (what the process alone holds), RSS where USS was not read.
USS, RSS, FDS, THREADS, CPU = "uss_mb", "rss_mb", "fds", "threads", "cpu"
MB, DECIMALS = "MB", 3
PER_KOPS_UNIT = "/1k ops"


@dataclass(frozen=True)
class Growth:
    """A fitted growth over the readings after warm-up."""

    per_min: float  # units per minute (Theil–Sen slope)
    total: float  # over the span fitted: slope x span
    per_kops: float | None  # per 1,000 operations the node served in the span (None: none)
    span_s: float
    readings: int
    ops: int

    def to_dict(self) -> dict[str, Any]:
        return {k: _r(v) for k, v in self.__dict__.items()}


def _r(value: float | int | None) -> float | int | None:
    return round(value, DECIMALS) if isinstance(value, float) else value


def node_readings(ev: Evidence, key: str, rows: list[dict[str, Any]]) -> dict[str, list]:
    """(t, value) per node of one per-node column, rows without a reading left out."""
    out: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        for name, value in (row.get(key) or {}).items():
            if isinstance(value, int | float):
                out.setdefault(name, []).append((row["t"], float(value)))
    return dict(sorted(out.items()))


def after_warmup(ev: Evidence) -> list[dict[str, Any]]:
    """Monitor rows after the first level ended, outside stress windows."""
    levels = ev.of_kind(LEVEL)
    if not levels:
        return []
    start, stress = levels[0]["end"], ev.of_kind(STRESS)
    return [
        r
        for r in ev.series
        if r["t"] >= start and not any(w["start"] <= r["t"] <= w["end"] for w in stress)
    ]


def served(ev: Evidence, node: str, start: float, end: float) -> int:
    """Operations the node served (or was tried for) that started in ``[start, end]``."""
    return sum(1 for s in ev.between(start, end + 1e-9) if s.get("node") == node)


def fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Theil–Sen slope per second and the span fitted; None with too few readings."""
    if len(points) < MIN_READINGS:
        return None
    step = max(1, -(-len(points) // MAX_FIT_POINTS))
    chosen = points[::step]
    ts = [t - chosen[0][0] for t, _ in chosen]
    slope = float(theilslopes([v for _, v in chosen], ts)[0])
    return slope, points[-1][0] - points[0][0]


def growth(ev: Evidence, node: str, points: list[tuple[float, float]]) -> Growth | None:
    """The fitted growth of one node's readings after warm-up (None: too few readings)."""
    fitted = fit(points)
    if fitted is None:
        return None
    slope, span = fitted
    ops = served(ev, node, points[0][0], points[-1][0])
    total = slope * span
    per_kops = total / ops * PER_KOPS if ops else None
    return Growth(slope * S_PER_MIN, total, per_kops, span, len(points), ops)


def memory_points(ev: Evidence, rows: list[dict[str, Any]]) -> dict[str, list]:
    """Each node's USS readings, or its RSS where the monitor read no USS at all."""
    uss, rss = node_readings(ev, USS, rows), node_readings(ev, RSS, rows)
    return {n: uss.get(n) if len(uss.get(n, [])) >= MIN_READINGS else rss[n] for n in rss}


def idle_cpu(ev: Evidence) -> dict[str, list[float]]:
    """Each node's CPU readings inside the idle window(s). A reading covers the time since the
    row before it, so a row counts only when that row is inside the window too: the first row
    after the window opens measured the initial verification (downloads of 32 MiB), not rest."""
    spans = intervals(ev.series)
    rows = [
        r
        for w in ev.of_kind(IDLE)
        for since, r in spans
        if w["start"] <= since < r["t"] <= w["end"]
    ]
    return {n: [v for _, v in pts] for n, pts in node_readings(ev, CPU, rows).items()}


def cpu_per_kops(ev: Evidence) -> dict[str, dict[str, float]]:
    """Per node over the levels: CPU seconds used, operations served, CPU s per 1,000 ops."""
    out: dict[str, dict[str, float]] = {}
    for w in ev.of_kind(*STEADY_KINDS):
        rows = [r for r in ev.series if w["start"] <= r["t"] <= w["end"]]
        for prev, row in zip(rows, rows[1:], strict=False):
            for name, pct in (row.get(CPU) or {}).items():
                entry = out.setdefault(name, {"cpu_s": 0.0, "ops": 0})
                entry["cpu_s"] += float(pct) / 100.0 * (row["t"] - prev["t"])
        for s in requests(ev.in_window(w)):
            if s.get("node") in out:
                out[s["node"]]["ops"] += 1
    return {
        name: {**e, "cpu_s_per_kops": e["cpu_s"] / e["ops"] * PER_KOPS if e["ops"] else None}
        for name, e in sorted(out.items())
    }


def level_memory(ev: Evidence) -> dict[str, float]:
    """Each node's median memory (USS, else RSS) over the levels, MB."""
    rows = [
        r for w in ev.of_kind(*STEADY_KINDS) for r in ev.series if w["start"] <= r["t"] < w["end"]
    ]
    out = {}
    for name, pts in memory_points(ev, rows).items():
        values = sorted(v for _, v in pts)
        if values:
            out[name] = values[len(values) // 2]
    return out


def summary(ev: Evidence) -> dict[str, Any]:
    """Every resource figure per node, as the JSON results and the regression baseline keep it."""
    rows = after_warmup(ev)
    memory, fds = memory_points(ev, rows), node_readings(ev, FDS, rows)
    threads = node_readings(ev, THREADS, rows)
    idle, cpu, level_mem = idle_cpu(ev), cpu_per_kops(ev), level_memory(ev)
    names = sorted(set(memory) | set(idle) | set(cpu))
    out = {}
    for n in names:
        idle_values = sorted(idle.get(n, []))
        grown = {
            key: g.to_dict() if (g := growth(ev, n, pts.get(n, []))) else None
            for key, pts in (("memory", memory), ("fds", fds), ("threads", threads))
        }
        out[n] = {
            "idle_cpu_pct": idle_values[len(idle_values) // 2] if idle_values else None,
            "idle_readings": len(idle_values),
            "cpu_s_per_kops": _r((cpu.get(n) or {}).get("cpu_s_per_kops")),
            "memory_mb": level_mem.get(n),
            **{f"{key}_growth": g for key, g in grown.items()},
        }
    return out


def memory_growth(ev: Evidence, th: Thresholds) -> list[Result]:
    """A node's memory must not grow without bound: fails when it grew more than
    ``memory_growth_min_mb`` after warm-up *and* more than ``memory_kops_max_mb`` per 1,000
    operations it served (README, "Resources and scaling")."""
    check = Check("memory_growth", "<=", th.memory_kops_max_mb, f"{MB}{PER_KOPS_UNIT}", 1)
    return _growth_rows(ev, check, "memory", th.memory_growth_min_mb, MB)


def fd_growth(ev: Evidence, th: Thresholds) -> list[Result]:
    """Open file descriptors must not grow without bound: the same rule as memory."""
    check = Check("fd_growth", "<=", th.fd_kops_max, f"FDs{PER_KOPS_UNIT}", 1)
    members = max(0, len(ev.nodes) - 1)
    floor = max(th.fd_growth_min, th.fd_per_member * members)
    return _growth_rows(ev, check, "fds", floor, "FDs")


def figures(ev: Evidence) -> dict[str, dict[str, Any]]:
    """``summary`` once per evidence."""
    if "resources" not in ev.memo:
        ev.memo["resources"] = summary(ev)
    return ev.memo["resources"]


def unmeasured(ev: Evidence, check: Check, window: str) -> list[Result] | None:
    """Rows for a run whose nodes' processes were never read (nodes on another host, or given
    by URL without a pid): not measurable on this setup, shown and never a pass; None when the
    monitor read them."""
    if any(row.get(RSS) for row in ev.series):
        return None
    if not ev.series:
        return check.missing(window, "no monitor rows recorded")
    why = "the nodes' processes were not readable from the load generator (another host?)"
    return [check.result(window, None, REPORTED, 0, f"not measurable on this setup: {why}")]


def _names(ev: Evidence, found: dict[str, Any]) -> list[str]:
    """Every node of the run: one never measured is no evidence, not a pass."""
    return sorted(set(found) | {str(n.get("name")) for n in ev.nodes if n.get("name")})


def _growth_rows(ev: Evidence, check: Check, key: str, minimum: float, unit: str):
    window = "after warm-up"
    if (rows := unmeasured(ev, check, window)) is not None:
        return rows
    found, out = figures(ev), []
    for name in _names(ev, found):
        g = (found.get(name) or {}).get(f"{key}_growth")
        where = f"{window} · {name}"
        if g is None or g["per_kops"] is None:
            why = "too few readings after warm-up" if g is None else "no operations served"
            out.append(check.result(where, None, INSUFFICIENT, 0, why))
            continue
        over = g["total"] > minimum and g["per_kops"] > check.threshold
        detail = (
            f"{g['total']:+.1f} {unit} over {g['span_s'] / S_PER_MIN:.1f} min "
            f"({g['per_min']:+.2f} {unit}/min, {g['ops']} ops served); fails above "
            f"{check.threshold:g} {unit} per 1,000 ops and {minimum:g} {unit} in all"
        )
        out.append(
            check.result(where, g["per_kops"], FAIL if over else PASS, g["readings"], detail)
        )
    return out


def idle_cpu_rows(ev: Evidence, th: Thresholds) -> list[Result]:
    """A node's CPU with no load at all, bounded: its own timers, probes and gossip."""
    check = Check("idle_cpu", "<=", th.idle_cpu_pct, PCT, MIN_IDLE_READINGS)
    if (rows := unmeasured(ev, check, IDLE)) is not None:
        return rows
    if not ev.of_kind(IDLE):
        return check.missing(IDLE, "no idle window recorded")
    found = figures(ev)
    return [
        check.on(
            f"{IDLE} · {name}",
            (found.get(name) or {}).get("idle_cpu_pct"),
            (found.get(name) or {}).get("idle_readings", 0),
            "median of the readings with no users",
        )
        for name in _names(ev, found)
    ]


def baseline_figures(ev: Evidence) -> dict[str, dict[str, float | None]]:
    """Per node, what a later run is compared with: CPU per 1,000 ops, memory over the levels."""
    return {
        name: {"cpu_s_per_kops": f["cpu_s_per_kops"], "memory_mb": f["memory_mb"]}
        for name, f in figures(ev).items()
    }


def regression_rows(ev: Evidence, th: Thresholds, mark: str) -> list[Result]:
    """Each node's CPU per 1,000 ops and memory against the baseline's same-named node."""
    was_all, out = ev.baseline.get("resources") or {}, []
    for name, now in baseline_figures(ev).items():
        was = was_all.get(name) or {}
        if was.get("cpu_s_per_kops") and now["cpu_s_per_kops"] is not None:
            limit = round(was["cpu_s_per_kops"] * (1 + th.regress_cpu_pct / 100.0), 3)
            check = Check("regression_cpu", "<=", limit, "CPU s/1k ops", 1, family=REGRESSION)
            detail = f"{mark}baseline {was['cpu_s_per_kops']:.3f} CPU s per 1,000 ops"
            out.append(check.on(f"levels · {name}", now["cpu_s_per_kops"], 1, detail))
        if was.get("memory_mb") and now["memory_mb"] is not None:
            limit = round(
                max(
                    was["memory_mb"] * (1 + th.regress_memory_pct / 100.0),
                    was["memory_mb"] + th.regress_memory_slack_mb,
                ),
                1,
            )
            check = Check("regression_memory", "<=", limit, MB, 1, family=REGRESSION)
            detail = f"{mark}baseline {was['memory_mb']:.1f} MB (median over the levels)"
            out.append(check.on(f"levels · {name}", now["memory_mb"], 1, detail))
    return out


CRITERIA = (idle_cpu_rows, memory_growth, fd_growth)
