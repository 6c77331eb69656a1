"""Scale benchmark: networks of our node the size of real ones, on a sparse topology.

    python bench/scale_bench.py [--sizes 10,25,50,100] [--max 200] [--topology random:d=4]
                                [--ttls 2,3,4] [--seconds 5] [--clients 8] [--idle-s 10]
                                [--ready-timeout 180] [--spawn popen,fork] [--start-only]
                                [--json out.json]

For a 3-node full mesh first (the baseline, in the same run), then each size on the topology:
the time until the network is ready (every node up and seeing every other alive); the idle CPU
of the whole network over ``--idle-s`` (psutil, % of one core); RSS, USS and PSS per node
(``memory_full_info``); then, per TTL, a bounded closed loop of ``--clients`` searches spread
over the nodes: searches/s and p95, the reach (share of the nodes within TTL hops of the origin,
on the topology, that answered: answers carry ``nodes``; answers from beyond the TTL are counted
apart), the peer messages per query against 2E − (N − 1) (a query that reaches all, each node
first by a shortest path) and the answers over their own bound (``reports.checker.flood_bound``),
and peer messages per second, as a ratio to the 3-node network's (goal at 100 nodes: ≥ 0.5 ×).
Prints a Markdown table. A size that does not get ready says "not ready in X s", and the larger
ones are skipped (they would not either).

``--spawn popen,fork`` measures each size once per way of starting the nodes, in the same run:
``popen`` (an interpreter each, importing everything) and ``fork`` (forked by a fork server that
imported the node once, networks/forkserver.py), and says the CPU the nodes (and the fork
server) had used by the time the network was ready. ``--start-only`` stops after the memory
(a quick start-time comparison: ``--sizes 50 --start-only``).

Every loop is bounded in count and time; traffic goes only to 127.0.0.x; each network is
stopped before the next starts, also on error or Ctrl-C.
"""

from gevent import monkey

monkey.patch_all()  # the load generator's sockets are gevent's (bench/loadgen.py)

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import gevent
import psutil
from loadgen import REQUEST_TIMEOUT_S, Conn, build_request, percentile

from networks.definition import NetworkDefinition, load_network
from networks.launcher import Launcher
from networks.reach import shared_term
from networks.topology import Topology
from reports.checker import flood_bound

BASELINE_NODES = 3
SIZES = (10, 25, 50, 100)
FILES_PER_NODE = 4  # a small catalog: the bench measures the network, not the corpus
MAX_SEARCHES_PER_CLIENT = 100_000
MAX_ERRORS_PER_CLIENT = 50
MB = 1024 * 1024
RATIO_GOAL = 0.5  # peer messages/s at 100 nodes against the 3-node network's
GOAL_NODES = 100
SPAWNS = ("popen", "fork")


def network(spawn: str) -> NetworkDefinition:
    """The builtin network with its nodes started one interpreter each, or forked by a fork
    server (its definition's ``node.preload``)."""
    net = load_network("builtin")
    preload = () if spawn == "popen" else net.node.preload
    return dataclasses.replace(net, node=dataclasses.replace(net.node, preload=preload))


def node_pids(net: Launcher) -> list[int]:
    return [n.proc.pid for n in net.nodes.values() if n.proc is not None]


def start_cpu(net: Launcher) -> float:
    """CPU seconds the nodes, and the fork server itself (not its children), used so far."""
    total = cpu_seconds(node_pids(net))
    if net.forkserver is not None:
        try:
            t = psutil.Process(net.forkserver.pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their descendants so far. One pass over the
    process table: a ``children()`` per node reads all of /proc each time (minutes at 200)."""
    kids: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        kids.setdefault(proc.info["ppid"], []).append(proc.pid)
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def idle_cpu(net: Launcher, seconds: float) -> float:
    """The whole network's CPU while nothing asks it anything, % of one core."""
    pids = node_pids(net)
    before, t0 = cpu_seconds(pids), time.perf_counter()
    gevent.sleep(seconds)
    return 100 * (cpu_seconds(pids) - before) / (time.perf_counter() - t0)


def memory(net: Launcher) -> dict:
    """Mean and largest RSS, USS and PSS of a node, MB."""
    rows = []
    for pid in node_pids(net):
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        rows.append({k: getattr(info, k, 0) / MB for k in ("rss", "uss", "pss")})
    out = {}
    for key in ("rss", "uss", "pss"):
        values = [r[key] for r in rows] or [float("nan")]
        out[key] = round(sum(values) / len(values), 1)
        out[key + "_max"] = round(max(values), 1)
    return out


def search_load(net: Launcher, topo: Topology, ttl: int, seconds: float, clients: int) -> dict:
    """``clients`` closed loops of flooded searches, client i from node i mod N, for
    ``seconds``: searches/s, p95, reach against the topology, messages per query."""
    nodes = list(net.nodes.values())
    term = shared_term(net.node_infos())
    within = {n.name: topo.within(n.name, ttl) for n in nodes}
    bounds = {n.name: flood_bound(topo.graph, n.name, ttl) for n in nodes}
    latencies: list[float] = []
    seen = {"messages": 0, "max_messages": 0, "answers": 0, "reach": 0.0, "beyond": 0}
    seen.update(errors=0, partial=0, over_bound=0)
    stop_at = time.perf_counter() + seconds

    def client(index: int) -> None:
        node = nodes[index % len(nodes)]
        host, port = node.host, node.http_port
        raw = build_request(host, port, f"/search?q={term}&ttl={ttl}")
        conn, errors = Conn(host, port), 0
        try:
            for _ in range(MAX_SEARCHES_PER_CLIENT):
                t0 = time.perf_counter()
                if t0 >= stop_at or errors >= MAX_ERRORS_PER_CLIENT:
                    break
                try:
                    status, body = conn.request(raw)
                    answer = json.loads(body) if status == 200 else None
                except (OSError, ValueError):
                    answer = None
                    conn.close()
                if not isinstance(answer, dict):
                    errors += 1
                    seen["errors"] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                answered = set(answer.get("nodes") or ())
                near = within[node.name]
                seen["answers"] += 1
                seen["messages"] += int(answer.get("messages") or 0)
                seen["max_messages"] = max(seen["max_messages"], int(answer.get("messages") or 0))
                seen["reach"] += len(answered & near) / len(near)
                seen["beyond"] += bool(answered - near)
                seen["partial"] += bool(answer.get("partial"))
                seen["over_bound"] += int(answer.get("messages") or 0) > bounds[node.name]
        finally:
            conn.close()

    jobs = [gevent.spawn(client, i) for i in range(clients)]
    gevent.joinall(jobs, timeout=seconds + REQUEST_TIMEOUT_S + 5)
    gevent.killall(jobs, timeout=2)
    done = max(1, seen["answers"])
    lat = sorted(latencies)
    return {
        "ttl": ttl,
        "searches_per_s": round(seen["answers"] / seconds, 1),
        "p95_ms": round(percentile(lat, 95) * 1000, 1),
        "reach": round(seen["reach"] / done, 3),
        "beyond_ttl": seen["beyond"],
        "partial": seen["partial"],
        "errors": seen["errors"],
        "messages_per_query": round(seen["messages"] / done, 1),
        "max_messages": seen["max_messages"],
        "classic_bound": topo.flood_bound(),
        "over_bound": seen["over_bound"],
        "peer_messages_per_s": round(seen["messages"] / seconds, 1),
    }


def measure(size: int, spec: str, args, spawn: str = SPAWNS[0]) -> dict:
    """One network: start it, time until ready, idle CPU, memory, the search loads."""
    out: dict = {"nodes": size, "topology": spec, "spawn": spawn}
    started = time.perf_counter()
    net = Launcher(
        network(spawn), size, topology=spec, seed=args.seed, files_per_node=FILES_PER_NODE
    )
    out["summary"] = net.topology.summary()
    try:
        try:
            net.start_all(args.ready_timeout)
        except TimeoutError:
            out["ready_s"] = None
            out["not_ready"] = f"not ready in {args.ready_timeout:.0f} s"
            return out
        out["ready_s"] = round(time.perf_counter() - started, 1)
        out["start_cpu_s"] = round(start_cpu(net), 1)
        if not args.start_only:
            out["idle_cpu_pct"] = round(idle_cpu(net, args.idle_s), 1)
        out["memory_mb"] = memory(net)
        if args.start_only:
            return out
        out["loads"] = [
            search_load(net, net.topology, ttl, args.seconds, args.clients) for ttl in args.ttls
        ]
    finally:
        net.close()
    return out


def one_size(size: int, spawn: str, results: list[dict], args) -> dict:
    """A size started one way; skipped when a smaller one started that way was not ready."""
    where = {"nodes": size, "topology": args.topology, "spawn": spawn}
    if any(r.get("ready_s") is None for r in results if r.get("spawn") == spawn):
        return {**where, "not_ready": "skipped"}
    try:
        return measure(size, args.topology, args, spawn)
    except ValueError as exc:  # the machine cannot hold it, or the topology cannot be built
        return {**where, "not_ready": str(exc)}


def spawns(text: str) -> tuple[str, ...]:
    values = tuple(x.strip() for x in text.split(",") if x.strip())
    if not values or any(v not in SPAWNS for v in values):
        raise argparse.ArgumentTypeError(f"popen, fork or popen,fork: {text!r}")
    return values


def ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"whole numbers of at least 1: {text!r}")
    return values


def table(results: list[dict]) -> str:
    """The Markdown table: one row per network and TTL."""
    base = {r["ttl"]: r["peer_messages_per_s"] for r in results[0].get("loads", [])}
    head = (
        "| nodes | topology | spawn | ready | CPU to ready | idle CPU (network) "
        "| RSS / USS / PSS per node | TTL | searches/s | p95 | reach | beyond TTL "
        "| msgs/query (max) | 2E−(N−1) | over bound | peer msgs/s | × 3 nodes |"
    )
    lines = [head, "|" + "---|" * 17]
    for r in results:
        where = f"| {r['nodes']} | {r['topology']} | {r.get('spawn', '')} "
        if r.get("ready_s") is None:
            lines.append(f"{where}| {r.get('not_ready', 'skipped')} |")
            continue
        m = r["memory_mb"]
        mem = f"{m['rss']:.0f} / {m['uss']:.0f} / {m['pss']:.0f} MB"
        idle = f"{r['idle_cpu_pct']:.0f} %" if "idle_cpu_pct" in r else ""
        first = f"{where}| {r['ready_s']:.1f} s | {r['start_cpu_s']:.0f} s | {idle} | {mem} "
        if not r.get("loads"):
            lines.append(first + "|")
        for i, load in enumerate(r.get("loads", [])):
            lead = first if i == 0 else "| | | | | | | "
            ratio = load["peer_messages_per_s"] / base[load["ttl"]] if base.get(load["ttl"]) else 0
            lines.append(
                f"{lead}| {load['ttl']} | {load['searches_per_s']:.0f} | {p95(load)} "
                f"| {load['reach']:.0%} | {load['beyond_ttl']} "
                f"| {load['messages_per_query']:.0f} ({load['max_messages']}) "
                f"| {load['classic_bound']} | {load['over_bound']} "
                f"| {load['peer_messages_per_s']:,.0f} | {ratio:.2f} × |"
            )
    return "\n".join(lines)


def p95(load: dict) -> str:
    """The p95 cell: none without an answer (not ``nan ms``)."""
    return "—" if load["p95_ms"] != load["p95_ms"] else f"{load['p95_ms']:.0f} ms"


def goal(results: list[dict]) -> str:
    """The ratio goal's line per way of starting: peer messages/s at ``GOAL_NODES`` against
    the 3-node network."""
    rows = [r for r in results if r["nodes"] == GOAL_NODES]
    if not rows:
        return f"goal: not measured ({GOAL_NODES} nodes not in --sizes)"
    base = max(x["peer_messages_per_s"] for x in results[0]["loads"])
    lines = []
    for at in rows:
        lead = f"goal ({at.get('spawn')}):"
        if at.get("ready_s") is None:
            lines.append(f"{lead} missed, {GOAL_NODES} nodes {at.get('not_ready', 'skipped')}")
            continue
        best = max(x["peer_messages_per_s"] for x in at["loads"])
        ratio = best / base if base else 0.0
        met = "met" if ratio >= RATIO_GOAL else "missed"
        lines.append(
            f"{lead} peer messages/s at {GOAL_NODES} nodes {ratio:.2f} × 3 nodes "
            f"(≥ {RATIO_GOAL}): {met}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python bench/scale_bench.py", description=__doc__)
    p.add_argument("--sizes", type=ints, default=SIZES, help="network sizes (default 10,25,50,100)")
    p.add_argument("--max", type=int, default=max(SIZES), help="largest size; 200 adds 200")
    p.add_argument("--topology", default="random:d=4", help="topology (default random:d=4)")
    p.add_argument("--ttls", type=ints, default=(2, 3, 4), help="TTLs to search with")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds of load per TTL")
    p.add_argument("--clients", type=int, default=8, help="concurrent search clients")
    p.add_argument("--idle-s", type=float, default=10.0, help="seconds of idle CPU measurement")
    p.add_argument("--ready-timeout", type=float, default=180.0, help="seconds to get ready")
    p.add_argument("--seed", type=int, default=7, help="topology and corpus seed")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument(
        "--spawn", type=spawns, default=SPAWNS, help="popen, fork or both (default popen,fork)"
    )
    p.add_argument("--start-only", action="store_true", help="ready time, CPU and memory only")
    args = p.parse_args(argv)
    if not 1 <= args.clients <= 200 or not 0 < args.seconds <= 120 or not 0 < args.idle_s <= 120:
        p.error("--clients 1..200, --seconds and --idle-s 0..120")
    sizes = sorted({s for s in args.sizes if s <= args.max} | ({200} if args.max >= 200 else set()))
    results = [measure(BASELINE_NODES, "full", args, args.spawn[0])]
    print(f"baseline: {results[0]['summary']}", flush=True)
    if results[0].get("ready_s") is None:
        print(f"scale_bench: the 3-node baseline was {results[0]['not_ready']}", file=sys.stderr)
        return 1
    for size in sizes:
        for spawn in args.spawn:
            results.append(one_size(size, spawn, results, args))
            print(f"{size} nodes ({spawn}) measured: {results[-1].get('summary', '')}", flush=True)
    print()
    print(table(results))
    if not args.start_only:
        print()
        print(goal(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
