"""A minimal peer for peerload's node: a member that says only what the protocol requires (the
``minimal`` check).

Every peer in a run is one of ours and fills every field of every answer: a flood answer's
``messages``, ``partial`` and ``hops_to``, which the protocol lets a peer leave out (their
defaults: 0, false, none). A node that reads one of them without its default (a missing count
taken as -1, a missing flag as a failure) is wrong only beside a peer written by someone else,
which is what a network specified in phases, built by several teams, meets. Here a member no node
of the network is joins a node as its neighbour and answers each peer message on our wire protocol
(``node/wire.py``) with its required fields only: a probe with itself, a flooded query with its
name and, when the query matches it, the hit of its one file.

The member runs in a process of its own (``python -m networks.builtin_minimal NAME FILE SIZE
SHA256``), threads and plain sockets, out of the caller's gevent loop; it prints its port, then
each query it answered. Its gRPC address is the discard port: it serves no download.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from node.wire import HEADER_BYTES, MAGIC, encode

from .adapter import MinimalPeer, NodeInfo, Unavailable
from .builtin_probes import IMPOSTOR_HOST, _answer, impostor
from .builtin_rogue import member_process

#: The member's one file: a size and digest it states (it is never downloaded).
FILE_SIZE = 4096
FILE_SHA256 = "5e" * 32
#: A frame the member reads at most (our node's messages are a few hundred bytes).
MAX_FRAME = 64 * 1024
IDLE_S = 30.0


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise EOFError
        data += more
    return data


def _answer_of(op: object, body: dict, me: dict, file: dict) -> dict:
    """The body of the member's answer to one message: what the protocol requires, no more."""
    if op == "flood":
        print(f"FLOOD {body.get('q')}", flush=True)
        matches = str(body.get("q", "")).lower() in file["name"].lower()
        hit = {**file, "node": me["name"], "grpc": me["grpc"], "hops": body.get("hops", 0)}
        return {"results": [hit] if matches else [], "nodes": [me["name"]]}
    if op == "ping_req":
        return {"ok": False}
    return {"self": me}  # a ping, gossip or join: it is alive


def _serve_connection(conn: socket.socket, me: dict, file: dict) -> None:
    conn.settimeout(IDLE_S)
    try:
        if _read(conn, len(MAGIC)) != MAGIC:
            return
        while True:
            size = int.from_bytes(_read(conn, HEADER_BYTES), "big")
            if size > MAX_FRAME:
                return
            message = json.loads(_read(conn, size))
            body = message.get("body") if isinstance(message.get("body"), dict) else {}
            answer = {"status": 200, "body": _answer_of(message.get("op"), body, me, file)}
            conn.sendall(encode(answer))
    except (EOFError, OSError, ValueError):
        return
    finally:
        conn.close()


def serve(name: str, file_name: str, size: int, sha256: str) -> None:
    """The member's process: serve until stdin closes, printing the port, then each query."""
    listener = socket.create_server((IMPOSTOR_HOST, 0))
    port = listener.getsockname()[1]
    me = {**impostor(name), "http": f"http://{IMPOSTOR_HOST}:{port}"}
    file = {"name": file_name, "size": size, "sha256": sha256}

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_serve_connection, args=(conn, me, file), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    listener.close()


@contextmanager
def minimal_peer(node: NodeInfo) -> Iterator[MinimalPeer]:
    """A minimal member joined to ``node`` as its neighbour, while the block runs."""
    name = f"minimal-{uuid.uuid4().hex[:12]}"
    file = {"name": f"{name}-only.bin", "size": FILE_SIZE, "sha256": FILE_SHA256}
    args = (name, file["name"], str(FILE_SIZE), FILE_SHA256)
    with member_process("networks.builtin_minimal", *args) as (port, said):
        member = {**impostor(name), "http": f"http://{IMPOSTOR_HOST}:{port}"}
        raw = json.dumps({"self": member, "link": True}).encode()
        headers = {"Content-Type": "application/json"}
        status, body = _answer(node, lambda c: c.request("POST", "/peers/join", raw, headers))
        if not 200 <= status < 300:
            raise Unavailable(f"{node.name} answered the minimal member's join with HTTP {status}")
        try:
            linked = bool(json.loads(body).get("linked"))
        except (ValueError, AttributeError):
            raise Unavailable(f"{node.name}'s answer to a join is not JSON") from None
        yield MinimalPeer(name, file, linked, said)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
