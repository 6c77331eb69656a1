"""Node benchmark: one run against a fresh local 3-node cluster, every figure next to a baseline
measured in the same run.

    python bench/node_bench.py [--seconds 5] [--clients 25] [--json out.json]

Measures, in this order: idle RSS; ``/health`` req/s on n1; local-only search (``ttl=0``) req/s
vs ``/health``; flooded search (``ttl=3``, 3 nodes) req/s with p50/p95 and a check of every
answer (messages == 4, partial count); single-stream gRPC download MB/s vs raw loopback TCP
MB/s (same 1 MiB send size, two processes each); RSS after load; failure detection (SIGKILL,
restart, SIGSTOP). Prints one table (metric, value, baseline, ratio, target, met), then details
(per-phase CPU of each node, of this process and of everything else on the machine); exit status
1 when a target is missed.

Other processes on the machine compete for the same cores: before each phase the bench waits
(bounded, ``--wait-quiet``) for them to go quiet, and says so when they did not.

The HTTP load generator is this process: gevent greenlets, each a closed-loop client on its own
raw keep-alive socket (pre-built request bytes, minimal response parsing), so it stays cheap
next to the nodes on the same cores. The gRPC and raw-TCP endpoints run in child processes
(``python bench/transfer.py _grpc-download|_tcp-sink|_tcp-send ...``) without gevent, so gevent
cannot interfere with them. Every loop is bounded in count and time; traffic goes only to
127.0.0.x; the cluster is stopped in ``finally``.

Modules: ``loadgen`` (HTTP load generator), ``machine`` (CPU, RSS, quiet machine), ``control``
(control-plane HTTP helpers), ``transfer`` (download phase and its child processes); this file
has the arguments, the failure-detection phase, the report and ``main``.
"""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket; the transfer children never get here

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from control import http_json, peer_states, watch_many
from loadgen import check_sample, run_load
from machine import PIDS, rss_mb, wait_quiet
from report import build_rows, print_details, print_table
from transfer import phase_concurrent, phase_download

if TYPE_CHECKING:
    from networks.cluster import Cluster

DETECT_TIMEOUT_S = 15.0


def phase_failures(cluster: "Cluster") -> dict:
    urls = {n: node.http for n, node in cluster.nodes.items()}
    out = {}

    # SIGKILL n3 -> n1 and n2 both say dead
    t0 = time.monotonic()
    cluster.kill("n3")
    seen = watch_many(
        {"n1": urls["n1"], "n2": urls["n2"]},
        lambda u: peer_states(u).get("n3") == "dead",
        DETECT_TIMEOUT_S,
        t0,
    )
    out["kill_dead_by"] = seen
    out["kill_dead_s"] = None if None in seen.values() else max(seen.values())

    # restart n3 -> all three report peers_alive == 2, timed from the restart call
    t0 = time.monotonic()
    cluster.start("n3")
    out["restart_listening_s"] = time.monotonic() - t0
    PIDS["n3"] = cluster.nodes["n3"].proc.pid
    seen = watch_many(
        urls,
        lambda u: http_json(f"{u}/health", timeout=0.5)["peers_alive"] == 2,
        DETECT_TIMEOUT_S,
        t0,
    )
    out["restart_alive_by"] = seen
    out["restart_s"] = None if None in seen.values() else max(seen.values())

    # SIGSTOP n2 -> n1 and n3 both say dead; then resume and wait for 3/3 again
    t0 = time.monotonic()
    cluster.pause("n2")
    try:
        seen = watch_many(
            {"n1": urls["n1"], "n3": urls["n3"]},
            lambda u: peer_states(u).get("n2") == "dead",
            DETECT_TIMEOUT_S,
            t0,
        )
    finally:
        t1 = time.monotonic()
        cluster.resume("n2")
    out["pause_dead_by"] = seen
    out["pause_dead_s"] = None if None in seen.values() else max(seen.values())
    back = watch_many(
        urls,
        lambda u: http_json(f"{u}/health", timeout=0.5)["peers_alive"] == 2,
        DETECT_TIMEOUT_S,
        t1,
    )
    out["resume_alive_s"] = None if None in back.values() else max(back.values())
    return out


# ================================================================================================
# Report
# ================================================================================================
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python bench/node_bench.py", description=__doc__.split("\n")[0]
    )
    p.add_argument("--seconds", type=float, default=5.0, help="measurement window per load phase")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up before each window (s)")
    p.add_argument("--clients", type=int, default=25, help="concurrent clients, /health + local")
    p.add_argument("--flood-clients", type=int, default=25, help="concurrent flooded searches")
    p.add_argument("--file-mb", type=int, default=192, help="download file size in MiB")
    p.add_argument("--runs", type=int, default=5, help="alternating gRPC / raw TCP runs (median)")
    p.add_argument("--streams", type=int, default=16, help="concurrent downloads phase")
    p.add_argument("--idle", type=float, default=3.0, help="idle seconds before RSS readings")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        help="before each load phase wait up to this many s for other processes to go quiet",
    )
    p.add_argument("--quiet-cpu", type=float, default=20.0, help="quiet: others under this CPU %%")
    p.add_argument("--json", type=Path, help="also write the results here")
    a = p.parse_args(argv)
    if not (0.5 <= a.seconds <= 120 and 0 <= a.warmup <= 30 and 0 <= a.idle <= 60):
        p.error("--seconds must be 0.5..120, --warmup 0..30, --idle 0..60")
    if not (1 <= a.clients <= 500 and 1 <= a.flood_clients <= 500):
        p.error("--clients and --flood-clients must be 1..500")
    if not (1 <= a.file_mb <= 1024 and 1 <= a.runs <= 10 and 1 <= a.streams <= 64):
        p.error("--file-mb must be 1..1024, --runs 1..10, --streams 1..64")
    if not (0 <= a.wait_quiet <= 600 and 0 < a.quiet_cpu <= 200):
        p.error("--wait-quiet must be 0..600, --quiet-cpu 0..200")

    from networks.cluster import Cluster

    results: dict = {"args": {k: str(v) for k, v in vars(a).items()}, "started": time.time()}
    cluster = Cluster(3)
    try:
        print("starting a 3-node cluster ...", flush=True)
        cluster.start_all()
        for name, node in cluster.nodes.items():
            PIDS[name] = node.proc.pid
        n1 = cluster.nodes["n1"].http
        time.sleep(a.idle)
        results["rss_idle_mb"] = rss_mb(PIDS)
        print(f"idle RSS MB {results['rss_idle_mb']}", flush=True)

        quiet = results["quiet"] = {}

        def phase(key: str, label: str) -> None:
            print(label, flush=True)
            quiet[key] = wait_quiet(a.wait_quiet, a.quiet_cpu)

        phase("health", f"/health on n1, {a.clients} clients ...")
        results["health"] = run_load(
            n1, "/health", a.clients, a.seconds, a.warmup, check_sample(-1, 10)
        )
        phase("local", f"local search on n1, {a.clients} clients ...")
        results["local"] = run_load(
            n1, "/search?q=alpha&ttl=0", a.clients, a.seconds, a.warmup, check_sample(0, 10)
        )
        phase("flood", f"flooded search from n1, {a.flood_clients} clients ...")
        results["flood"] = run_load(
            n1, "/search?q=alpha&ttl=3", a.flood_clients, a.seconds, a.warmup, check_sample(4, 1)
        )
        phase("download", f"gRPC download of {a.file_mb} MiB from n3 vs raw TCP ...")
        results["download"] = phase_download(cluster, a.file_mb, a.runs)
        phase("concurrent", f"{a.streams} concurrent gRPC downloads from n3 ...")
        results["concurrent"] = phase_concurrent(cluster, a.streams, a.seconds)
        time.sleep(a.idle)
        results["rss_after_mb"] = rss_mb(PIDS)
        phase("failures", "failure detection (SIGKILL n3, restart, SIGSTOP n2) ...")
        results["failures"] = phase_failures(cluster)
    finally:
        cluster.close()  # resumes paused nodes, stops all, removes the workdir

    rows = build_rows(results)
    print()
    print_table(rows)
    disturbed = [
        f"{k} ({results[k]['cpu_pct']['other']:.0f}%)"
        for k in ("health", "local", "flood")
        if results[k]["cpu_pct"]["other"] > a.quiet_cpu
    ]
    if disturbed:
        print(
            f"note: other processes used > {a.quiet_cpu:.0f}% CPU during the window of: "
            f"{', '.join(disturbed)}; those figures are depressed by them"
        )
    print_details(results)
    results["rows"] = rows
    if a.json:
        a.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nwrote {a.json}")
    return 0 if all(r["met"] != "NO" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
