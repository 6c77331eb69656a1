"""A deterministic synthetic run: for tests, and to show what a report looks like without a cluster.

``python -m reports.synthetic OUT_DIR [--broken]`` writes a complete results directory.
Everything is drawn from one seeded ``random.Random``, so the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

T0 = 1_700_000_000.0
NODES = ("n1", "n2", "n3")
#: (name, kind, start offset s, end offset s, users, fault_id, fault_kind, target)
TIMELINE: tuple[tuple[Any, ...], ...] = (
    ("verify-initial", "verify", 0, 5, 1, None, None, None),
    ("level-5", "level", 5, 35, 5, None, None, None),
    ("level-10", "level", 35, 65, 10, None, None, None),
    ("level-20", "level", 65, 95, 20, None, None, None),
    ("level-25", "level", 95, 125, 25, None, None, None),
    ("baseline", "baseline", 125, 145, 10, None, None, None),
    ("fault:crash-each:n1", "fault", 145, 160, 10, "crash-each", "crash", "n1"),
    ("recovery:crash-each:n1", "recovery", 160, 175, 10, "crash-each", "crash", "n1"),
    ("fault:crash-each:n2", "fault", 175, 190, 10, "crash-each", "crash", "n2"),
    ("recovery:crash-each:n2", "recovery", 190, 205, 10, "crash-each", "crash", "n2"),
    ("fault:isolate:n3", "fault", 205, 220, 10, "isolate", "partition", "n3"),
    ("recovery:isolate:n3", "recovery", 220, 235, 10, "isolate", "partition", "n3"),
    ("stress-30", "stress", 235, 255, 30, None, None, None),
    ("stress-40", "stress", 255, 275, 40, None, None, None),
    ("verify-final", "verify", 275, 280, 1, None, None, None),
)
#: (op, proto, share of a user's requests, median latency ms)
OPS = (
    ("search", "rest", 0.6, 120.0),
    ("index", "rest", 0.15, 80.0),
    ("download", "grpc", 0.25, 300.0),
)
WAIT_S = (0.05, 0.25)
RESTART_S = 3.0


def windows(scale: float = 1.0) -> list[dict[str, Any]]:
    """The synthetic windows, per docs/contracts.md; ``scale`` stretches or shrinks time."""
    keys = ("name", "kind", "start", "end", "users", "fault_id", "fault_kind", "target")
    out = [dict(zip(keys, row, strict=True)) for row in TIMELINE]
    for w in out:
        w["start"], w["end"] = T0 + w["start"] * scale, T0 + w["end"] * scale
    return out


def _down(wins: list[dict[str, Any]], t: float, broken: bool) -> set[str]:
    """Nodes not answering at ``t`` (a crashed node restarts RESTART_S after its heal)."""
    down = set()
    for w in (w for w in wins if w["kind"] == "fault" and w["fault_kind"] == "crash"):
        never_back = broken and w["target"] == "n2"
        if w["start"] <= t < w["end"] + RESTART_S or (never_back and t >= w["start"]):
            down.add(w["target"])
    return down


def _samples(
    rng: random.Random, wins: list[dict[str, Any]], w: dict[str, Any], broken: bool
) -> list[dict[str, Any]]:
    out = []
    stress = w["kind"] == "stress"
    for user in range(w["users"]):
        t = w["start"] + rng.uniform(0, 0.5)
        while t < w["end"]:
            op, proto, _, median = rng.choices(OPS, weights=[o[2] for o in OPS])[0]
            node = NODES[(user + int(t)) % len(NODES)]
            latency = rng.lognormvariate(0, 0.4) * median * (1 + w["users"] / 25)
            ok_p = 0.65 if stress and w["users"] >= 40 else 0.99
            if node in _down(wins, t, broken):
                ok_p = 0.0 if broken else 0.93  # failover hides most errors, when it works
            ok = rng.random() < ok_p
            out.append(
                {
                    "t": round(t, 4),
                    "op": op,
                    "proto": proto,
                    "node": node,
                    "latency_ms": round(latency, 2),
                    "bytes": 4096 if op == "download" else 0,
                    "ok": ok,
                    "error": None if ok else "timeout",
                    "users": w["users"],
                }
            )
            if op == "download" and ok:
                out.append({**out[-1], "op": "download_ttfb", "latency_ms": round(latency / 4, 2)})
            t += latency / 1000 + rng.uniform(*WAIT_S)
    return out


def _series(rng: random.Random, wins: list[dict[str, Any]], broken: bool) -> list[dict[str, Any]]:
    rows = []
    for second in range(int(wins[-1]["end"] - T0)):
        t = T0 + second
        down = _down(wins, t, broken)
        current = [w for w in wins if w["start"] <= t < w["end"]]
        users = current[0]["users"] if current else 0
        alive = [n for n in NODES if n not in down]
        rows.append(
            {
                "t": t,
                "users": users,
                "nodes_alive": len(alive),
                "nodes_total": len(NODES),
                "cpu": {
                    n: round(min(99.0, 10 + users * 2.2 + rng.uniform(-3, 3)), 1) for n in alive
                },
                "rss_mb": {n: round(60 + second * 0.05, 1) for n in alive},
                "rtt_ms": {
                    f"{a}->{b}": round(rng.uniform(0.2, 1.5), 3)
                    for a in alive
                    for b in alive
                    if a != b
                },
                "faults_active": [w["name"][6:] for w in current if w["kind"] == "fault"],
            }
        )
    return rows


def _journal(wins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = []
    for w in wins:
        if w["kind"] == "fault":
            for phase, at in (("start", w["start"]), ("end", w["end"])):
                entries.append(
                    {
                        "wall": at,
                        "offset": at - T0,
                        "fault_id": w["fault_id"],
                        "kind": w["fault_kind"],
                        "target": w["target"],
                        "phase": phase,
                        "outcome": "ok",
                        "error": None,
                        "detail": {},
                    }
                )
    return entries


def synthetic_run(seed: int = 7, *, broken: bool = False, scale: float = 1.0) -> dict[str, Any]:
    """A complete ``run`` dict; ``broken`` crashes n2 for good (no restart, no failover)."""
    rng = random.Random(seed)
    wins = windows(scale)
    samples = [s for w in wins if w["kind"] != "verify" for s in _samples(rng, wins, w, broken)]
    return {
        "config": {"profile": "synthetic", "failover": not broken, "nodes": len(NODES)},
        "versions": {"peerload": "0.1.0", "locust": "2.47", "python": "3.11"},
        "seed": seed,
        "plan": {"version": 1, "seed": seed, "fault": [{"id": "crash-each", "kind": "crash"}]},
        "samples": sorted(samples, key=lambda s: s["t"]),
        "windows": wins,
        "journal": _journal(wins),
        "series": _series(rng, wins, broken),
        "integrity": {"checked": 30, "ok": 30 if not broken else 27, "missing": 3 * broken},
        "concurrency": None,
        "fault_results": None,
        "thresholds": None,
    }


def main(argv: list[str] | None = None) -> int:
    """Write a synthetic results directory with every report; exit code is the verdict's."""
    from reports import build

    parser = argparse.ArgumentParser(prog="python -m reports.synthetic")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--broken", action="store_true", help="n2 crashes and never returns")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    verdict = build(args.out_dir, synthetic_run(args.seed, broken=args.broken))
    print(verdict.reason)
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
