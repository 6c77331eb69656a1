"""A rogue member for peerload's node: it joins, then serves wrong bytes (the ``rogue`` check).

A node that fetches a file from a peer (``POST /download``) must verify what it receives: in a
run every peer is one of ours and serves the right bytes, so a node that keeps a file whose
sha256 is wrong, or accepts a stream that ended early, is never seen. Here a member that no
node of the network is joins a node (``/peers/join``, well formed: the node must take it in) and
serves, through our ``FileTransfer`` protocol, a file that is wrong in one way per request
(``MODES``). The node must answer each fetch with 502 (its peer failed it), or 413 for a file
larger than its upload limit (a pull is an upload by other means), and keep nothing.

The member runs in a process of its own (``python -m networks.builtin_rogue``): a plain gRPC
server, out of the caller's gevent loop. It prints its port, then each file it was asked for,
so the caller tells a node that refused a wrong file from one that never reached the member.
Its HTTP address is the discard port: nothing answers there, so the node soon holds it dead.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from node.config import DEFAULT_MAX_UPLOAD

from .adapter import NodeInfo, RoguePull, Unavailable
from .builtin_probes import IMPOSTOR_HOST, impostor, post

#: Bytes of each file the rogue serves, in chunks of ``CHUNK``: a few chunks, fetched at once.
SIZE, CHUNK = 96 * 1024, 32 * 1024
#: What the node must answer a fetch whose peer sent a wrong file: its upstream failed it.
BAD_GATEWAY = 502
#: ... and one whose peer sends more than the node takes in an upload.
TOO_LARGE = 413
#: Chunks of an oversized file: gRPC's default message limit is 4 MiB.
OVERSIZE_CHUNK = 1024 * 1024
#: The largest upload limit the rogue goes past (a node with a larger one is not sent it): what
#: it streams is bounded whatever name it is asked for.
MAX_OVERSIZE = 1024**3
#: How the rogue gets a file wrong (the file name ends with the mode): what it does.
MODES = {
    "flipped-first": "sends the file with its first byte changed",
    "flipped-last": "sends the file with its last byte changed",
    "zeros": "sends as many zero bytes instead of the file",
    "short": "sends half the file and says it sent all of it",
    "unended": "sends the whole file but never says it is done",
    "gap": "skips a chunk: the next one's offset is past the bytes sent",
    "oversize": "sends one byte more than the node's upload limit",
}
START_TIMEOUT_S = 10.0
ROOT = Path(__file__).resolve().parents[1]


def content(name: str) -> bytes:
    """The right bytes of ``name``: derived from the name, so the rogue needs no state."""
    return hashlib.shake_256(name.encode()).digest(SIZE)


def file_name(base: str, mode: str, limit: int) -> str:
    """The file the rogue is asked for: its mode, and for ``oversize`` the limit to pass."""
    return f"{base}-{limit}-{mode}.bin" if mode == "oversize" else f"{base}-{mode}.bin"


def _oversize(name: str) -> tuple[Iterator[tuple[int, bytes]], int]:
    size = min(int(name.rsplit("-", 2)[-2]), MAX_OVERSIZE) + 1
    zeros = bytes(OVERSIZE_CHUNK)
    offsets = range(0, size, OVERSIZE_CHUNK)
    return ((o, zeros[: min(OVERSIZE_CHUNK, size - o)]) for o in offsets), size


def stream(name: str) -> tuple[Iterable[tuple[int, bytes]], int | None]:
    """What the rogue sends for ``name`` (its mode ends the name): (offset, data) chunks, and
    the total its done message claims (None: the stream never says it is done)."""
    mode = next((m for m in MODES if name.endswith(f"-{m}.bin")), "")
    if mode == "oversize":
        return _oversize(name)
    data = bytearray(content(name))
    if mode == "flipped-first":
        data[0] ^= 0xFF
    elif mode == "flipped-last":
        data[-1] ^= 0xFF
    elif mode == "zeros":
        data = bytearray(len(data))
    sent = data[: len(data) // 2] if mode == "short" else data
    chunks = []
    for offset in range(0, len(sent), CHUNK):
        skipped = CHUNK if mode == "gap" and offset >= CHUNK else 0
        chunks.append((offset + skipped, bytes(sent[offset : offset + CHUNK])))
    return chunks, None if mode == "unended" else len(data)


def serve() -> None:
    """The rogue's process: serve until stdin closes, printing the port, then each request."""
    import grpc

    from proto import p2p_pb2, p2p_pb2_grpc

    lock = threading.Lock()

    class Rogue(p2p_pb2_grpc.FileTransferServicer):
        def Download(self, request, context):  # noqa: N802 (gRPC's method name)
            with lock:
                print(f"SERVED {request.name}", flush=True)
            chunks, total = stream(request.name)
            for offset, data in chunks:
                yield p2p_pb2.Chunk(offset=offset, data=data)
            if total is not None:
                yield p2p_pb2.Chunk(done=True, total=total)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    p2p_pb2_grpc.add_FileTransferServicer_to_server(Rogue(), server)
    port = server.add_insecure_port(f"{IMPOSTOR_HOST}:0")
    server.start()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    server.stop(0)


@contextmanager
def member_process(module: str, *args: str) -> Iterator[tuple[int, list[str]]]:
    """A foreign member running (``python -m module *args``, which prints ``PORT n`` first and
    serves until its stdin closes): (its port, the lines it printed after, filled when it
    stops)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    watchdog = threading.Timer(START_TIMEOUT_S, proc.kill)  # a rogue that never says its port
    watchdog.start()
    said: list[str] = []
    try:
        first = proc.stdout.readline()
        watchdog.cancel()
        if not first.startswith("PORT "):
            raise Unavailable(f"the foreign member ({module}) did not start")
        yield int(first.split()[1]), said
        out, _ = proc.communicate("", timeout=START_TIMEOUT_S)
        said += out.splitlines()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def rogue_pulls(node: NodeInfo, health: dict) -> list[RoguePull]:
    """Join a rogue member to ``node`` and ask it to fetch one wrong file per mode;
    ``health``: the node's health answer, which says its upload limit (older nodes: the
    default)."""
    name = f"rogue-{uuid.uuid4().hex[:12]}"
    limit = health.get("max_upload")
    limit = limit if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_UPLOAD
    pulls = []
    with member_process("networks.builtin_rogue") as (port, said):
        member = impostor(name, grpc=f"{IMPOSTOR_HOST}:{port}")  # well formed: taken in
        joined = post(node, "/peers/join", {"self": member, "link": False})
        if not 200 <= joined < 300:
            raise Unavailable(f"{node.name} answered the rogue member's join with HTTP {joined}")
        for mode, what in MODES.items():
            if mode == "oversize" and limit > MAX_OVERSIZE:
                continue
            file = file_name(name, mode, limit)
            sha = hashlib.sha256(content(file)).hexdigest()
            answer = post(node, "/download", {"name": file, "sha256": sha, "from": name})
            expect = TOO_LARGE if mode == "oversize" else BAD_GATEWAY
            pulls.append(RoguePull(what, file, answer, expect))
    served = {line.split(" ", 1)[1] for line in said if line.startswith("SERVED ")}
    return [replace(p, reached=p.file in served) for p in pulls]


if __name__ == "__main__":
    serve()
