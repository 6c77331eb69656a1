"""A deterministic synthetic run: for tests, and to show what a report looks like without a cluster.

``python -m reports.synthetic OUT_DIR [--broken]`` writes a complete results directory.
Everything is drawn from one seeded ``random.Random``, so the same arguments give the same bytes.

The run has the shape of a real one: four levels (each ending in a burst without think time),
the fault stage under steady load with three faults inside it, a stress ramp; the run status,
the integrity check and the faults side's own measurements. Healthy, it is READY; ``--broken``
crashes n2 for good with failover off, so the uploads it acknowledged are lost (NOT READY).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from pathlib import Path
from typing import Any

from reports.checker import SHA_PREFIX
from reports.regression import FULL_MESH
from reports.samples import between, by_op, percentile, success_rate, summarize

T0 = 1_700_000_000.0
NODES = ("n1", "n2", "n3")
#: (name, kind, start offset s, end offset s, users, fault_id, fault_kind, target)
TIMELINE: tuple[tuple[Any, ...], ...] = (
    ("idle", "idle", -6, 0, 0, None, None, None),
    ("level-5", "level", 0, 30, 5, None, None, None),
    ("level-10", "level", 30, 60, 10, None, None, None),
    ("level-20", "level", 60, 90, 20, None, None, None),
    ("level-25", "level", 90, 120, 25, None, None, None),
    ("faults", "faults", 120, 230, 10, None, None, None),
    ("fault:crash-each:n1", "fault", 140, 155, None, "crash-each", "crash", "n1"),
    ("recovery:crash-each:n1", "recovery", 155, 170, None, "crash-each", "crash", "n1"),
    ("fault:crash-each:n2", "fault", 170, 185, None, "crash-each", "crash", "n2"),
    ("recovery:crash-each:n2", "recovery", 185, 200, None, "crash-each", "crash", "n2"),
    ("fault:isolate:n3", "fault", 200, 215, None, "isolate", "partition", "n3"),
    ("recovery:isolate:n3", "recovery", 215, 230, None, "isolate", "partition", "n3"),
    ("stress-30", "stress", 230, 250, 30, None, None, None),
    ("stress-40", "stress", 250, 270, 40, None, None, None),
)
#: Windows whose users generate the load (the others are parts of the fault stage).
STAGE_KINDS = ("level", "faults", "stress")
#: Share of a level spent in its burst (users without think time), as the Locust shape does.
BURST_SHARE = 0.5
#: (op, proto, share of a user's requests, median latency ms)
OPS = (
    ("search", "rest", 0.5, 120.0),
    ("index", "rest", 0.15, 80.0),
    ("download", "grpc", 0.2, 300.0),
    ("node_download", "rest", 0.15, 250.0),
)
#: What each fault kind of the timeline acts on (``faults.kind_facts(kind).acts_on``).
ACTS_ON = {"crash": "process", "partition": "network"}
THINK_S = (0.1, 0.5)
RESTART_S = 3.0
#: Monitor rows in the idle window (three readings with their whole interval inside it).
IDLE_ROWS = 4
#: Share of searches looking for one corpus file by name (the others search by topic).
BY_NAME_SHARE = 0.75
#: The seeded corpus: files per node, under shared topic words (``alpha-n1-000.txt``).
TOPICS = ("alpha", "bravo", "charlie", "delta")
FILES_PER_NODE = 8
FILE_UNIT_BYTES = 4096
SEARCH_TTL_MAX = 4
FAILOVER_MS = 40.0
STRESS_HELD_PCT, STRESS_P95_MS = 70.0, 2000.0
SEARCHABLE_CHECKS = 200


def windows(scale: float = 1.0) -> list[dict[str, Any]]:
    """The synthetic windows, per docs/contracts.md; ``scale`` stretches or shrinks time."""
    keys = ("name", "kind", "start", "end", "users", "fault_id", "fault_kind", "target")
    out = [dict(zip(keys, row, strict=True)) for row in TIMELINE]
    for w in out:
        w["start"], w["end"] = T0 + w["start"] * scale, T0 + w["end"] * scale
        if w["kind"] == "level":
            w["burst_start"] = w["start"] + (w["end"] - w["start"]) * (1 - BURST_SHARE)
        if w["kind"] in ("fault", "recovery"):  # the kind's facts, as the faults side says
            w["takes_down"], w["acts_on"] = True, ACTS_ON[w["fault_kind"]]
    return out


def _out(wins: list[dict[str, Any]], t: float, broken: bool, kinds=("crash", "partition")):
    """Nodes out of service at ``t`` (a crashed node restarts RESTART_S after its heal; when
    ``broken``, n2 never does)."""
    out = set()
    for w in wins:
        if w["kind"] != "fault" or w["fault_kind"] not in kinds:
            continue
        restart = RESTART_S if w["fault_kind"] == "crash" else 0.0
        never_back = broken and w["target"] == "n2"
        if w["start"] <= t < w["end"] + restart or (never_back and t >= w["start"]):
            out.add(w["target"])
    return out


def corpus(node: str) -> list[dict[str, Any]]:
    """The files seeded on ``node``: name, size and sha256, the same for every seed."""
    names = [f"{TOPICS[i % len(TOPICS)]}-{node}-{i:03d}.txt" for i in range(FILES_PER_NODE)]
    return [
        {
            "name": name,
            "size": FILE_UNIT_BYTES * (i + 1),
            "sha256": hashlib.sha256(name.encode()).hexdigest(),
        }
        for i, name in enumerate(names)
    ]


def nodes() -> list[dict[str, Any]]:
    """The nodes as the run record lists them, each with its seeded files."""
    return [{"name": n, "files": corpus(n)} for n in NODES]


def answer(term: str, origin: str, ttl: int, out: set[str]) -> dict[str, Any]:
    """What a correct full mesh answers: every matching file on every node not out, with the
    hops it is at; partial when a node is out."""
    up = [n for n in NODES if n not in out]
    hits = [
        [n, f["name"], f["size"], f["sha256"][:SHA_PREFIX], int(n != origin)]
        for n in up
        for f in corpus(n)
        if term.lower() in f["name"].lower()
    ]
    return {
        "term": term,
        "ttl": ttl,
        "hits": hits,
        "reached": up,
        "partial": bool(out),
        # Over a full mesh every node is first reached directly: N - 1 copies out, and with
        # TTL left each of them forwards to the N - 2 others: 2E - (N - 1) = (N - 1)².
        "messages": (len(up) - 1) * (1 if ttl <= 1 else len(up) - 1),
    }


def _search_facts(rng: random.Random, origin: str, out: set[str]) -> dict[str, Any]:
    """A search by a corpus file's name or by a topic word, with a TTL drawn as users do."""
    file = rng.choice(corpus(rng.choice(NODES)))
    term = file["name"] if rng.random() < BY_NAME_SHARE else file["name"].split("-", 1)[0]
    return answer(term, origin, rng.randint(1, SEARCH_TTL_MAX), out)


def _request(
    rng: random.Random,
    wins: list[dict[str, Any]],
    w: dict[str, Any],
    user: int,
    t: float,
    broken: bool,
) -> dict[str, Any]:
    """One request of ``user`` at ``t``: to its home node, failing over when it is out."""
    op, proto, _, median = rng.choices(OPS, weights=[o[2] for o in OPS])[0]
    out = _out(wins, t, broken)
    home = NODES[user % len(NODES)]
    node, ok_p = home, 0.65 if w["kind"] == "stress" and w["users"] >= 40 else 0.99
    latency = rng.lognormvariate(0, 0.4) * median * (1 + w["users"] / 25)
    if home in out:
        if broken:  # failover off: the request goes to the dead node and fails
            ok_p = 0.0
        else:
            node = next(n for n in NODES[user % len(NODES) :] + NODES if n not in out)
            ok_p, latency = 0.93, latency + FAILOVER_MS
    ok = rng.random() < ok_p
    sample = {
        "t": round(t, 4),
        "op": op,
        "proto": proto,
        "node": node,
        "home": home,
        "latency_ms": round(latency, 2),
        "bytes": 4096 if op in ("download", "node_download") and ok else 0,
        "ok": ok,
        "error": None if ok else ("connection refused" if node in out else "timeout"),
        "failover": node != home,
        "users": w["users"],
    }
    if op == "search" and ok:
        sample.update(_search_facts(rng, node, out))
    if op == "index":
        sample["name"] = f"idx-synthetic-{user}-{round(t * 1000)}.bin"
    return sample


def _derived(sample: dict[str, Any]) -> list[dict[str, Any]]:
    """Measurements inside a request: a download's first byte."""
    if sample["ok"] and sample["op"] == "download":
        return [{**sample, "op": "download_ttfb", "latency_ms": round(sample["latency_ms"] / 4, 2)}]
    return []


def _samples(
    rng: random.Random, wins: list[dict[str, Any]], w: dict[str, Any], broken: bool
) -> list[dict[str, Any]]:
    """The requests of a stage's users; in a level's burst they skip their think time."""
    out = []
    for user in range(w["users"]):
        t = w["start"] + rng.uniform(0, 0.5)
        while t < w["end"]:
            sample = _request(rng, wins, w, user, t, broken)
            extra = _derived(sample)
            out += [sample, *extra]
            t = max(s["t"] + s["latency_ms"] / 1000 for s in (sample, *extra))
            if t < w.get("burst_start", w["end"]):
                t += rng.uniform(*THINK_S)
    return out


def _handles(alive: list[str], second: float) -> dict[str, Any]:
    """A healthy node's USS (flat after its first minute), FDs and threads: no rng draw, so
    the rest of the run stays as it was."""
    return {
        "uss_mb": {n: round(28 + min(second, 60) * 0.05, 1) for n in alive},
        "fds": {n: 40 + int(second) % 3 for n in alive},
        "threads": {n: 12 for n in alive},
    }


def _views(alive: list[str], out: set[str]) -> dict[str, dict[str, str]]:
    """Each answering node's view of its peers: a peer out of service (or a node that is cut
    off itself) seen dead, every other alive. No rng draw."""
    return {
        a: {b: "dead" if b in out or a in out else "alive" for b in NODES if b != a} for a in alive
    }


def _idle_rows(wins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The monitor's rows in the idle window before the first level (no users): evenly spread,
    so that at any scale readings whose whole interval lies inside it are there."""
    idle = [w for w in wins if w["kind"] == "idle"]
    rows = []
    for w in idle:
        step = (w["end"] - w["start"]) / IDLE_ROWS
        for i in range(IDLE_ROWS):
            rows.append(
                {
                    "t": w["start"] + (i + 0.5) * step,
                    "users": 0,
                    "nodes_alive": len(NODES),
                    "nodes_total": len(NODES),
                    "cpu": dict.fromkeys(NODES, 1.5),
                    "rss_mb": dict.fromkeys(NODES, 60.0),
                    **_handles(list(NODES), 0),
                    "rtt_ms": {},
                    "generator_cpu": 2.0,
                    "faults_active": [],
                    "views": _views(list(NODES), set()),
                }
            )
    return rows


def _series(rng: random.Random, wins: list[dict[str, Any]], broken: bool) -> list[dict[str, Any]]:
    rows = _idle_rows(wins)
    for second in range(int(wins[-1]["end"] - T0)):
        t = T0 + second
        down = _out(wins, t, broken, kinds=("crash",))  # a partitioned node still answers
        current = [w for w in wins if w["start"] <= t < w["end"]]
        users = next((w["users"] for w in current if w["users"]), 0)
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
                **_handles(alive, second),
                "rtt_ms": {
                    f"{a}->{b}": round(rng.uniform(0.2, 1.5), 3)
                    for a in alive
                    for b in alive
                    if a != b
                },
                "generator_cpu": round(min(99.0, 15 + users * 1.6 + rng.uniform(-4, 4)), 1),
                "faults_active": [w["name"][6:] for w in current if w["kind"] == "fault"],
                "views": _views(alive, _out(wins, t, broken)),
            }
        )
    return rows


def _journal(wins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = []
    for i, w in enumerate(w for w in wins if w["kind"] == "fault"):
        for phase, at in (("start", w["start"]), ("end", w["end"])):
            late = 0.12 * i if phase == "start" and i else 0.0  # the machine lags a little
            entries.append(
                {
                    "record": "step",
                    "wall": at + late,
                    "offset": at + late - T0,
                    "planned_offset": at - T0,
                    "fault_id": w["fault_id"],
                    "kind": w["fault_kind"],
                    "target": w["target"],
                    "phase": phase,
                    "outcome": "ok",
                    "error": None,
                    "detail": {"late_s": round(late, 3)} if late else {},
                    "takes_down": w["takes_down"],
                    "acts_on": w["acts_on"],
                }
            )
    return entries


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in ("n", "success_pct", "p95_ms")}


def _fault_results(
    rng: random.Random, wins: list[dict[str, Any]], samples: list[dict[str, Any]], broken: bool
) -> list[dict[str, Any]]:
    """The faults side's measurements: detection from the nodes' own views and recovery."""
    out = []
    for w in (w for w in wins if w["kind"] == "fault"):
        never = broken and w["target"] == "n2"
        restart = RESTART_S if w["fault_kind"] == "crash" else 0.0
        recovered_s = None if never else round(restart + rng.uniform(0.3, 1.5), 2)
        reqs = between(samples, w["start"], w["end"])
        span = w["end"] - w["start"]
        ops = {op: _brief(summarize(group, span)) for op, group in by_op(reqs).items()}
        out.append(
            {
                "fault_id": w["fault_id"],
                "kind": w["fault_kind"],
                "target": w["target"],
                "takes_down": True,
                "window": {"start": w["start"], "end": w["end"]},
                "outcome": "ok",
                "requests": ops,
                "detected_s": round(rng.uniform(0.6, 2.2), 2),
                "recovered_s": recovered_s,
                "recovered": recovered_s is not None,
                "healed_by": "schedule",
            }
        )
    return out


def acked(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The uploads the network acknowledged, as the users record them (with the time)."""
    return [
        {
            "name": s["name"],
            "sha256": hashlib.sha256(s["name"].encode()).hexdigest(),
            "size": FILE_UNIT_BYTES,
            "node": s["node"],
            "t": round(s["t"] + s["latency_ms"] / 1000, 4),
        }
        for s in samples
        if s["op"] == "index" and s["ok"]
    ]


def _integrity(samples: list[dict[str, Any]], broken: bool) -> dict[str, Any]:
    """Acknowledged uploads checked after the run: those n2 acknowledged are gone if it is."""
    uploads = acked(samples)
    lost = [a["name"] for a in uploads if broken and a["node"] == "n2"]
    return {
        "acked_uploads": len(uploads),
        "lost": len(lost),
        "corrupt": 0,
        "searchable_checked": min(SEARCHABLE_CHECKS, len(uploads) - len(lost)),
        "unsearchable": 0,
        "download_sha256_mismatches": 0,
        "examples": lost[:10],
    }


def _breaking_point(wins: list[dict[str, Any]], samples: list[dict[str, Any]]) -> dict:
    """What the load shape records: the highest stress step that held, the first that broke."""
    held = None
    for w in (w for w in wins if w["kind"] == "stress"):
        reqs = [s for s in between(samples, w["start"], w["end"]) if s["op"] != "download_ttfb"]
        rate = success_rate(reqs) or 0.0
        p95 = percentile([s["latency_ms"] for s in reqs], 95) or 0.0
        why = f"success {rate:.1f}% < {STRESS_HELD_PCT:g}%" if rate < STRESS_HELD_PCT else ""
        why = why or (f"p95 {p95:.0f} ms > {STRESS_P95_MS:g} ms" if p95 > STRESS_P95_MS else "")
        if why:
            return {"highest_held": held, "broke_at": w["users"], "why": why}
        held = w["users"]
    return {"highest_held": held, "broke_at": None, "why": "ramp ended"}


def run_status(broken: bool = False) -> dict[str, Any]:
    """The run status (docs/contracts.md): every stage ran; after a broken run the final
    verification finds n2 gone."""
    final = ["n2: no answer on /health", "canary search from n1 did not reach n2"]
    return {
        "nodes": len(NODES),
        "in_progress": False,
        "ended": "all stages done",
        "interrupted": None,
        "cut_short": None,
        "worker_died": False,
        "initial_problems": [],
        "final_problems": final if broken else [],
        "minimal": {
            "outcome": "pass",
            "detail": "n1 found the file of a member that says only what it must",
        },
        "rogue": {"outcome": "pass", "detail": "14 wrong files refused by n1, n2, none kept"},
    }


def setup(scale: float = 1.0) -> dict[str, Any]:
    """The run's setup as the Locust suite records it (``reports.regression.SETUP``)."""
    levels = [w for w in TIMELINE if w[1] == "level"]
    stress = [w[4] for w in TIMELINE if w[1] == "stress"]
    return {
        "network": "builtin",
        "nodes": len(NODES),
        "topology": FULL_MESH,
        "profile": "synthetic",
        "levels": ",".join(str(w[4]) for w in levels),
        "step_time": round((levels[0][3] - levels[0][2]) * scale, 3),
        "stress_start": str(stress[0]),
        "faults": "synthetic",
        "files_per_node": FILES_PER_NODE,
    }


def synthetic_run(seed: int = 7, *, broken: bool = False, scale: float = 1.0) -> dict[str, Any]:
    """A complete ``run`` dict; ``broken`` crashes n2 for good (no restart, no failover)."""
    rng = random.Random(seed)
    wins = windows(scale)
    stages = [w for w in wins if w["kind"] in STAGE_KINDS]
    samples = sorted(
        (s for w in stages for s in _samples(rng, wins, w, broken)), key=lambda s: s["t"]
    )
    return {
        "config": {"failover": not broken, **setup(scale)},
        "versions": {"peerload": "0.1.0", "locust": "2.47", "python": "3.11"},
        "seed": seed,
        "plan": {"version": 1, "seed": seed, "fault": [{"id": "crash-each", "kind": "crash"}]},
        "samples": samples,
        "windows": wins,
        "journal": _journal(wins),
        "series": _series(rng, wins, broken),
        "integrity": _integrity(samples, broken),
        "concurrency": {"breaking_point": _breaking_point(wins, samples)},
        "fault_results": _fault_results(rng, wins, samples, broken),
        "thresholds": None,
        "status": run_status(broken),
        "nodes": nodes(),
        "acked": acked(samples),
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
