"""Download phase of the node benchmark: single-stream gRPC download MB/s vs raw loopback TCP
MB/s (same 1 MiB send size, two processes each), and the child processes that do the transfers.

The children run this file, ``python bench/transfer.py MODE ...`` (modes ``_grpc-download``,
``_tcp-sink``, ``_tcp-send``), as plain Python without gevent, so gevent cannot interfere with
them: nothing this module imports monkey-patches (only ``node_bench.py`` does, and a child never
imports it).
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from control import http_json

if TYPE_CHECKING:
    from networks.cluster import Cluster

CHILD_MODES = ("_grpc-download", "_grpc-many", "_tcp-sink", "_tcp-send")
SEND_SIZE = 1024 * 1024  # gRPC chunk size of the node, and the raw TCP send/recv size
CHILD_TIMEOUT_S = 120.0


# ================================================================================================
# Child processes (plain Python, no gevent)
# ================================================================================================
def pull_channel(address: str):
    """A channel set up as the node's own pull client: its options, its heap tuning."""
    import grpc

    from node import memory
    from node.transfer import CLIENT_OPTIONS

    memory.tune()
    return grpc.insecure_channel(address, options=CLIENT_OPTIONS)


def child_grpc_download(
    address: str, name: str, sha256: str, runs: int, deadline_s: float, verify: bool
) -> None:
    """A warm-up download (hashing it when ``verify``), then ``runs`` timed downloads on the same
    channel; the timed ones only count bytes and check offsets and the final total/sha256."""
    import grpc

    from proto import p2p_pb2
    from proto.chunks import download_call

    out = {"runs": [], "verified": False}
    with pull_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        download = download_call(channel)
        for i in range(runs + 1):
            digest = hashlib.sha256() if i == 0 and verify else None
            size, done, first = 0, None, None
            started = time.perf_counter()
            stream = download(
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


def child_grpc_many(address: str, name: str, sha256: str, streams: int, seconds: float) -> None:
    """``streams`` threads, each on its own channel, download ``name`` over and over for
    ``seconds``; every download must end with the expected total sha256."""
    import threading

    from proto import p2p_pb2
    from proto.chunks import download_call

    totals, bad = [0] * streams, []
    stop_at = time.perf_counter() + seconds

    def loop(i: int) -> None:
        with pull_channel(address) as channel:
            download = download_call(channel)
            while time.perf_counter() < stop_at:
                size = 0
                for chunk in download(p2p_pb2.DownloadRequest(name=name), timeout=CHILD_TIMEOUT_S):
                    if chunk.done:
                        if chunk.sha256 != sha256 or chunk.total != size:
                            bad.append(chunk.total)
                        break
                    size += len(chunk.data)
                totals[i] += size

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + CHILD_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    print(json.dumps({"bytes": sum(totals), "seconds": elapsed, "bad": len(bad)}), flush=True)


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
    elif mode == "_grpc-many":
        child_grpc_many(args[0], args[1], args[2], int(args[3]), float(args[4]))
    elif mode == "_tcp-sink":
        child_tcp_sink(args[0])
    elif mode == "_tcp-send":
        child_tcp_send(args[0], int(args[1]), int(args[2]), int(args[3]))
    return 0


# ================================================================================================
# Parent side
# ================================================================================================
def phase_download(cluster: "Cluster", file_mb: int, runs: int) -> dict:
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


def phase_concurrent(cluster: "Cluster", streams: int, seconds: float) -> dict:
    """``streams`` concurrent downloads of n3's largest corpus file (throughput, and the load
    that the RSS reading after it has to recover from)."""
    n3 = cluster.nodes["n3"]
    biggest = max(n3.files, key=lambda f: f["size"])
    me = [sys.executable, str(Path(__file__).resolve())]
    out = run_child(
        me, "_grpc-many", n3.grpc, biggest["name"], biggest["sha256"], str(streams), str(seconds)
    )
    return {
        "streams": streams,
        "file_bytes": biggest["size"],
        "mbps": out["bytes"] / 2**20 / out["seconds"],
        "bad": out["bad"],
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


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CHILD_MODES:
        sys.exit(f"usage: python bench/transfer.py {{{','.join(CHILD_MODES)}}} ARG ...")
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(child_main(sys.argv[1:]))
