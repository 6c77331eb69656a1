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
next to the nodes on the same cores. The gRPC and raw-TCP endpoints run in child processes of
this same script (``_grpc-download``, ``_tcp-sink``, ``_tcp-send``) without gevent, so gevent
cannot interfere with them. Every loop is bounded in count and time; traffic goes only to
127.0.0.x; the cluster is stopped in ``finally``.
"""

import sys

CHILD_MODES = ("_grpc-download", "_tcp-sink", "_tcp-send")
IS_CHILD = len(sys.argv) > 1 and sys.argv[1] in CHILD_MODES

if not IS_CHILD:
    from gevent import monkey

    monkey.patch_all()

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEND_SIZE = 1024 * 1024  # gRPC chunk size of the node, and the raw TCP send/recv size
REQUEST_TIMEOUT_S = 5.0
MAX_REQUESTS_PER_CLIENT = 2_000_000
MAX_ERRORS_PER_CLIENT = 200
POLL_S = 0.01
DETECT_TIMEOUT_S = 15.0
CHILD_TIMEOUT_S = 120.0

TARGETS = {
    "local_ratio": 0.70,
    "flood_rps": 500.0,
    "flood_p95_ms": 50.0,
    "download_ratio": 0.25,
    "kill_dead_s": 1.0,
    "restart_s": 2.0,
    "pause_dead_s": 2.0,
    "rss_mb": 60.0,
}


# ================================================================================================
# Child processes (plain Python, no gevent)
# ================================================================================================
def child_grpc_download(
    address: str, name: str, sha256: str, runs: int, deadline_s: float, verify: bool
):
    """A warm-up download (hashing it when ``verify``), then ``runs`` timed downloads on the same
    channel; the timed ones only count bytes and check offsets and the final total/sha256."""
    import grpc

    from proto import p2p_pb2, p2p_pb2_grpc

    options = [("grpc.max_receive_message_length", 4 * 1024 * 1024)]
    out = {"runs": [], "verified": False}
    with grpc.insecure_channel(address, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = p2p_pb2_grpc.FileTransferStub(channel)
        for i in range(runs + 1):
            digest = hashlib.sha256() if i == 0 and verify else None
            size, done, first = 0, None, None
            started = time.perf_counter()
            stream = stub.Download(
                p2p_pb2.DownloadRequest(name=name, sha256=sha256, chunk_size=SEND_SIZE),
                timeout=deadline_s,
            )
            for chunk in stream:
                if first is None:
                    first = time.perf_counter() - started
                if chunk.done:
                    done = chunk
                    break
                if chunk.offset != size:
                    raise SystemExit(f"chunk at offset {chunk.offset}, expected {size}")
                if digest is not None:
                    digest.update(chunk.data)
                size += len(chunk.data)
            elapsed = time.perf_counter() - started
            if done is None or done.total != size or done.sha256 != sha256:
                raise SystemExit(f"stream ended badly after {size} bytes")
            if i == 0:
                out["verified"] = digest is None or digest.hexdigest() == sha256
                continue
            out["runs"].append({"bytes": size, "seconds": elapsed, "ttfb_s": first})
    print(json.dumps(out), flush=True)


def child_tcp_sink(host: str) -> None:
    """Accept connections one after another; read each to EOF in 1 MiB recv_into, ack 8 bytes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((host, 0))
    listener.listen(1)
    listener.settimeout(CHILD_TIMEOUT_S)
    print(listener.getsockname()[1], flush=True)
    buf = bytearray(SEND_SIZE)
    view = memoryview(buf)
    for _ in range(64):  # bounded: the parent makes 2 per run (10 runs at most) and a stop
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            return
        with conn:
            conn.settimeout(CHILD_TIMEOUT_S)
            total = 0
            while n := conn.recv_into(view, SEND_SIZE):
                total += n
            conn.sendall(total.to_bytes(8, "big"))
            if total == 0:  # an empty connection is the parent's "stop"
                return


def child_tcp_send(host: str, port: int, total: int, runs: int) -> None:
    """``runs`` times: connect, send ``total`` bytes in 1 MiB sendall calls, wait for the ack."""
    block = memoryview(os.urandom(SEND_SIZE))
    out = {"runs": []}
    for _ in range(runs + 1):  # the first run warms up
        with socket.create_connection((host, port), timeout=CHILD_TIMEOUT_S) as sock:
            started = time.perf_counter()
            left = total
            while left > 0:
                n = min(left, SEND_SIZE)
                sock.sendall(block[:n])
                left -= n
            sock.shutdown(socket.SHUT_WR)
            ack = b""
            while len(ack) < 8 and (part := sock.recv(8 - len(ack))):
                ack += part
            elapsed = time.perf_counter() - started
        if int.from_bytes(ack, "big") != total:
            raise SystemExit(f"sink acknowledged {ack!r}, expected {total}")
        out["runs"].append({"bytes": total, "seconds": elapsed})
    out["runs"] = out["runs"][1:]
    print(json.dumps(out), flush=True)


def child_main(argv: list[str]) -> int:
    mode, args = argv[0], argv[1:]
    if mode == "_grpc-download":
        child_grpc_download(args[0], args[1], args[2], int(args[3]), float(args[4]), args[5] == "1")
    elif mode == "_tcp-sink":
        child_tcp_sink(args[0])
    elif mode == "_tcp-send":
        child_tcp_send(args[0], int(args[1]), int(args[2]), int(args[3]))
    return 0


# ================================================================================================
# HTTP load generator (gevent, raw keep-alive sockets)
# ================================================================================================
class Conn:
    """One keep-alive HTTP/1.1 connection that sends pre-built requests."""

    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.sock: socket.socket | None = None
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""

    def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=REQUEST_TIMEOUT_S)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.sock
        sock.sendall(raw)
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            part = sock.recv(65536)
            if not part:
                raise ConnectionResetError("closed before a response")
            buf += part
            if len(buf) > 1 << 20:
                raise ValueError("response head too large")
        head = buf[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ValueError("response without content-length")
        eol = head.find(b"\r\n", at + 17)
        length = int(head[at + 17 : eol if eol > 0 else len(head)])
        rest = buf[end + 4 :]
        while len(rest) < length:
            part = sock.recv(max(65536, length - len(rest)))
            if not part:
                raise ConnectionResetError("closed inside a body")
            rest += part
        self.buf = rest[length:]
        if b"\r\nconnection: close" in head:
            self.close()
        return int(head[9:12]), rest[:length]


def build_request(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.bad = 0
        self.checked = 0
        self.partial = 0
        self.error_samples: list[str] = []

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text)


def run_load(url: str, path: str, clients: int, seconds: float, warmup: float, check=None):
    """Closed loop: ``clients`` greenlets, each send-wait-send on its own connection.

    Counts requests that start inside the measurement window [warmup, warmup + seconds);
    ``check(body, recorder)`` validates answers (every one, or a sample, as it decides).
    """
    import gevent

    host, port = url.split("://", 1)[1].rsplit(":", 1)
    port = int(port)
    raw = build_request(host, port, path)
    rec = Recorder()
    began = time.perf_counter()
    window_start = began + warmup
    stop_at = window_start + seconds

    def client(index: int) -> None:
        conn = Conn(host, port)
        errors = 0
        try:
            for n in range(MAX_REQUESTS_PER_CLIENT):
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    break
                try:
                    status, body = conn.request(raw)
                except (OSError, ValueError) as exc:
                    conn.close()
                    errors += 1
                    if t0 >= window_start:
                        rec.error(f"{type(exc).__name__}: {exc}")
                    if errors >= MAX_ERRORS_PER_CLIENT:
                        return
                    gevent.sleep(0.01)
                    continue
                t1 = time.perf_counter()
                if t0 < window_start:
                    continue
                if status != 200:
                    rec.error(f"HTTP {status}: {body[:120]!r}")
                    continue
                rec.latencies.append(t1 - t0)
                if check is not None:
                    check(n, index, body, rec)
        finally:
            conn.close()

    cpu0 = cpu_snapshot()
    gevent.sleep(0)
    jobs = [gevent.spawn(client, i) for i in range(clients)]
    gevent.joinall(jobs, timeout=warmup + seconds + REQUEST_TIMEOUT_S + 5)
    gevent.killall(jobs, timeout=2)
    cpu1 = cpu_snapshot()
    window = seconds
    lat = sorted(rec.latencies)
    return {
        "path": path,
        "clients": clients,
        "seconds": window,
        "requests": len(lat),
        "rps": len(lat) / window,
        "p50_ms": percentile(lat, 50) * 1000,
        "p95_ms": percentile(lat, 95) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "errors": rec.errors,
        "error_samples": rec.error_samples,
        "checked": rec.checked,
        "bad": rec.bad,
        "partial": rec.partial,
        "cpu_pct": cpu_delta(cpu0, cpu1),
    }


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def check_sample(expect_messages: int, every: int):
    """Validate every ``every``-th answer per client: JSON, messages, partial flag."""

    def check(n: int, index: int, body: bytes, rec: Recorder) -> None:
        if n % every:
            return
        rec.checked += 1
        try:
            answer = json.loads(body)
        except ValueError:
            rec.bad += 1
            return
        if expect_messages >= 0 and answer.get("messages") != expect_messages:
            rec.bad += 1
        if answer.get("partial"):
            rec.partial += 1

    return check


# ================================================================================================
# Process accounting (CPU per phase, RSS)
# ================================================================================================
PIDS: dict[str, int] = {}


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


# ================================================================================================
# Small HTTP helpers for control-plane calls (not load)
# ================================================================================================
def http_json(url: str, method: str = "GET", timeout: float = 2.0) -> dict:
    import urllib.request

    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as answer:
        return json.loads(answer.read())


def peer_states(url: str) -> dict[str, str]:
    return {p["name"]: p["state"] for p in http_json(f"{url}/peers", timeout=0.5)["peers"]}


def wait_until(predicate, timeout: float, interval: float = POLL_S) -> float | None:
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


def watch_many(observers: dict, predicate, timeout: float, since: float) -> dict[str, float | None]:
    """For each observer (name -> url), seconds from ``since`` until ``predicate(url)`` holds."""
    import gevent

    result: dict[str, float | None] = {}

    def watch(name: str, url: str) -> None:
        took = wait_until(lambda: predicate(url), timeout - (time.monotonic() - since))
        result[name] = None if took is None else time.monotonic() - since

    gevent.joinall([gevent.spawn(watch, n, u) for n, u in observers.items()], timeout=timeout + 2)
    return {n: result.get(n) for n in observers}


# ================================================================================================
# Phases
# ================================================================================================
def phase_download(cluster, file_mb: int, runs: int) -> dict:
    """A large file on n3 (written to its shared dir + rescan); gRPC vs raw TCP, 2 processes."""
    n3 = cluster.nodes["n3"]
    name = f"bench-large-{file_mb}m.bin"
    path = n3.data_dir / "shared" / name
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        block = os.urandom(SEND_SIZE)
        for i in range(file_mb):
            piece = hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:]
            f.write(piece)
            digest.update(piece)
    sha = digest.hexdigest()
    size = file_mb * SEND_SIZE
    added = http_json(f"{n3.http}/files/rescan", "POST", timeout=60)
    if not any(r["name"] == name and r["sha256"] == sha for r in added["added"]):
        raise RuntimeError(f"rescan on n3 did not index {name}: {added}")

    # Alternate one gRPC run and one raw TCP run, so both see the same machine conditions
    # (other processes come and go); each child warms up once before its timed run.
    me = [sys.executable, str(Path(__file__).resolve())]
    sink = subprocess.Popen(
        [*me, "_tcp-sink", "127.0.0.1"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    pairs, verified = [], True
    try:
        port = int(sink.stdout.readline())
        for i in range(runs):
            g = run_child(me, "_grpc-download", n3.grpc, name, sha, "1", "60", str(int(i == 0)))
            if i == 0:
                verified = g["verified"]
            t = run_child(me, "_tcp-send", "127.0.0.1", str(port), str(size), "1")
            pairs.append((g["runs"][0], t["runs"][0]))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as stop:
            stop.shutdown(socket.SHUT_WR)  # an empty connection tells the sink to stop
            stop.recv(8)
        sink.wait(10)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()

    def mbps(run):
        return run["bytes"] / 2**20 / run["seconds"]

    g = [mbps(a) for a, _ in pairs]
    t = [mbps(b) for _, b in pairs]
    ratios = sorted(x / y for x, y in zip(g, t, strict=True))
    return {
        "file": name,
        "bytes": size,
        "verified": verified,
        "grpc_mbps_runs": [round(x, 1) for x in g],
        "tcp_mbps_runs": [round(x, 1) for x in t],
        "ratio_runs": [round(x / y, 3) for x, y in zip(g, t, strict=True)],
        "grpc_mbps": median(g),
        "tcp_mbps": median(t),
        "ratio": median(ratios),
        "grpc_ttfb_ms": [round(a["ttfb_s"] * 1000, 2) for a, _ in pairs],
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def run_child(me: list[str], *args: str) -> dict:
    out = subprocess.run(
        [*me, *args], capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} child failed: {out.stderr.strip()[-600:]}")
    return json.loads(out.stdout)


def phase_failures(cluster) -> dict:
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
def fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


def row(metric, value, baseline=None, ratio=None, target="-", met=None, unit="", digits=1):
    return {
        "metric": metric,
        "value": fmt(value, unit, digits),
        "baseline": baseline if isinstance(baseline, str) else fmt(baseline, unit, digits),
        "ratio": fmt(ratio, "", 2),
        "target": target,
        "met": "-" if met is None else ("yes" if met else "NO"),
    }


def build_rows(r: dict) -> list[dict]:
    rows = []
    rss0 = r["rss_idle_mb"]
    rss_max = max(rss0.values())
    health, local, flood = r["health"], r["local"], r["flood"]
    hr = health["rps"]
    rows.append(row(f"/health req/s n1 (C={health['clients']})", hr, None, None, "info"))
    rows.append(
        row(
            f"local search ttl=0 req/s n1 (C={local['clients']})",
            local["rps"],
            f"{hr:,.1f} /health",
            local["rps"] / hr if hr else None,
            f">= {TARGETS['local_ratio']:.2f}x /health",
            hr and local["rps"] / hr >= TARGETS["local_ratio"],
        )
    )
    rows.append(
        row(
            f"flooded search ttl=3 req/s (C={flood['clients']})",
            flood["rps"],
            f"{hr:,.1f} /health",
            flood["rps"] / hr if hr else None,
            f">= {TARGETS['flood_rps']:.0f}/s",
            flood["rps"] >= TARGETS["flood_rps"],
        )
    )
    rows.append(
        row(
            "flooded search p50 latency",
            flood["p50_ms"],
            f"{health['p50_ms']:.1f} ms /health",
            flood["p50_ms"] / health["p50_ms"] if health["p50_ms"] else None,
            "info",
            None,
            " ms",
        )
    )
    rows.append(
        row(
            "flooded search p95 latency",
            flood["p95_ms"],
            f"{health['p95_ms']:.1f} ms /health",
            flood["p95_ms"] / health["p95_ms"] if health["p95_ms"] else None,
            f"<= {TARGETS['flood_p95_ms']:.0f} ms",
            flood["p95_ms"] <= TARGETS["flood_p95_ms"],
            " ms",
        )
    )
    good = flood["checked"] - flood["bad"]
    rows.append(
        row(
            "flooded answers with messages == 4",
            f"{good}/{flood['checked']}",
            None,
            good / flood["checked"] if flood["checked"] else None,
            "all",
            flood["checked"] > 0 and flood["bad"] == 0,
        )
    )
    rows.append(
        row(
            "flooded answers partial / errors",
            f"{flood['partial']} / {flood['errors']}",
            None,
            None,
            "0 / 0",
            flood["partial"] == 0 and flood["errors"] == 0,
        )
    )
    d = r.get("download")
    if d:
        ratio = d["ratio"]
        rows.append(
            row(
                f"gRPC download MB/s ({d['bytes'] // 2**20} MiB, 1 stream)",
                d["grpc_mbps"],
                f"{d['tcp_mbps']:,.1f} raw TCP",
                ratio,
                f">= {TARGETS['download_ratio']:.2f}x raw TCP",
                ratio is not None and ratio >= TARGETS["download_ratio"] and d["verified"],
            )
        )
    f = r.get("failures")
    if f:
        rows.append(
            row(
                "SIGKILL n3 -> dead on n1+n2",
                f["kill_dead_s"],
                None,
                None,
                f"<= {TARGETS['kill_dead_s']:.1f} s",
                f["kill_dead_s"] is not None and f["kill_dead_s"] <= TARGETS["kill_dead_s"],
                " s",
                3,
            )
        )
        rows.append(
            row(
                "restart n3 -> all peers_alive == 2",
                f["restart_s"],
                f"{f['restart_listening_s']:.3f} s start",
                f["restart_s"] / f["restart_listening_s"] if f["restart_s"] else None,
                f"<= {TARGETS['restart_s']:.1f} s",
                f["restart_s"] is not None and f["restart_s"] <= TARGETS["restart_s"],
                " s",
                3,
            )
        )
        rows.append(
            row(
                "SIGSTOP n2 -> dead on n1+n3",
                f["pause_dead_s"],
                None,
                None,
                f"<= {TARGETS['pause_dead_s']:.1f} s",
                f["pause_dead_s"] is not None and f["pause_dead_s"] <= TARGETS["pause_dead_s"],
                " s",
                3,
            )
        )
        rows.append(
            row(
                "SIGCONT n2 -> all peers_alive == 2",
                f["resume_alive_s"],
                None,
                None,
                "info",
                None,
                " s",
                3,
            )
        )
    rows.append(
        row(
            "idle node RSS, max of 3 (fresh)",
            rss_max,
            None,
            None,
            f"<= {TARGETS['rss_mb']:.0f} MB",
            rss_max <= TARGETS["rss_mb"],
            " MB",
        )
    )
    if r.get("rss_after_mb"):
        after = max(v for v in r["rss_after_mb"].values() if v == v)
        rows.append(
            row(
                "idle node RSS, max of 3 (after load)",
                after,
                f"{rss_max:.1f} MB fresh",
                after / rss_max,
                f"<= {TARGETS['rss_mb']:.0f} MB",
                after <= TARGETS["rss_mb"],
                " MB",
            )
        )
    return rows


def print_table(rows: list[dict]) -> None:
    cols = ("metric", "value", "baseline", "ratio", "target", "met")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    line = "  ".join(c.ljust(widths[c]) for c in cols)
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))


def print_details(r: dict) -> None:
    print()
    print("details")
    for key in ("health", "local", "flood"):
        x = r[key]
        print(
            f"  {key:6s} {x['path']}: {x['requests']} req in {x['seconds']:.1f}s, "
            f"p50 {x['p50_ms']:.2f} ms, p95 {x['p95_ms']:.2f} ms, p99 {x['p99_ms']:.2f} ms, "
            f"errors {x['errors']}, checked {x['checked']} (bad {x['bad']}, "
            f"partial {x['partial']}); cpu% {x['cpu_pct']}"
        )
        for sample in x["error_samples"]:
            print(f"         error: {sample}")
    d = r.get("download")
    if d:
        print(
            f"  download {d['file']}: sha256 verified {d['verified']}; alternating runs: gRPC MB/s "
            f"{d['grpc_mbps_runs']} (ttfb ms {d['grpc_ttfb_ms']}), raw TCP MB/s "
            f"{d['tcp_mbps_runs']}, ratio {d['ratio_runs']} (medians used)"
        )
    f = r.get("failures")
    if f:
        print(
            f"  failures: kill->dead by {fmt_map(f['kill_dead_by'])}; restart->alive by "
            f"{fmt_map(f['restart_alive_by'])} (c.start returned after "
            f"{f['restart_listening_s']:.3f}s); pause->dead by {fmt_map(f['pause_dead_by'])}"
        )
    print(f"  rss MB fresh idle {r['rss_idle_mb']}; after load + idle {r.get('rss_after_mb')}")
    for phase, q in r.get("quiet", {}).items():
        state = "quiet" if q["quiet"] else "NOT quiet"
        print(
            f"  before {phase}: waited {q['waited_s']}s, others at {q['other_cpu_pct']}% CPU "
            f"({state})"
        )


def fmt_map(m: dict) -> str:
    return ", ".join(f"{k} {'-' if v is None else f'{v:.3f}s'}" for k, v in m.items())


# ================================================================================================
# Main
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
    if not (1 <= a.file_mb <= 1024 and 1 <= a.runs <= 10):
        p.error("--file-mb must be 1..1024, --runs 1..10")
    if not (0 <= a.wait_quiet <= 600 and 0 < a.quiet_cpu <= 200):
        p.error("--wait-quiet must be 0..600, --quiet-cpu 0..200")

    from node.cluster import Cluster

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
    if IS_CHILD:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        sys.exit(child_main(sys.argv[1:]))
    sys.exit(main())
