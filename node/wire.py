"""The peer wire protocol: how nodes talk to each other (flood, heartbeat, join).

Peer messages were 80 % of a flooded search's CPU when they went through HTTP (pywsgi parsing
headers with the email package, Bottle routing, two sends per answer; measured with py-spy in
bench/node_bench.py). They now travel on the node's HTTP port as length-prefixed JSON frames:
a connection that starts with ``MAGIC`` (a NUL byte, which no HTTP request can start with) is a
peer connection; any other is HTTP. The same operations stay available over REST for curl.

Frame: 4-byte big-endian length, then a JSON object. Request ``{"op", "from", "body"}``,
answer ``{"status", "body"}`` or ``{"status", "error"}``. One request at a time per
connection, like HTTP keep-alive.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import gevent

from .config import MAX_FRAME, PEER_IDLE_TIMEOUT_S
from .netfaults import black_hole_s

MAGIC = b"\x00PL1"
HEADER_BYTES = 4
OK, BAD_REQUEST, NOT_FOUND = 200, 400, 404


class WireError(Exception):
    """A frame that cannot be read: the connection is closed."""


def encode(message: dict) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode()
    return len(payload).to_bytes(HEADER_BYTES, "big") + payload


def send_all(sock, data: bytes | bytearray) -> None:
    """``sock.sendall(data)`` minus gevent's per-call overhead (a getsockopt syscall and a
    memoryview): one ``send`` takes a small frame whole; the rest, if any, goes by sendall."""
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])


def read_frame(rfile) -> dict | None:
    """The next frame from a buffered reader; None at a clean end of stream."""
    header = rfile.read(HEADER_BYTES)
    if not header:
        return None
    if len(header) < HEADER_BYTES:
        raise WireError("truncated frame header")
    size = int.from_bytes(header, "big")
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes is over the {MAX_FRAME} limit")
    payload = rfile.read(size)
    if len(payload) < size:
        raise WireError("truncated frame")
    try:
        message = json.loads(payload)
    except (ValueError, RecursionError):
        raise WireError("frame is not JSON") from None
    if not isinstance(message, dict):
        raise WireError("frame is not a JSON object")
    return message


def is_peer_connection(sock: socket.socket) -> bool:
    """Peek at the first byte without consuming it."""
    try:
        first = sock.recv(1, socket.MSG_PEEK)
    except OSError:
        return False
    return first == MAGIC[:1]


Handler = Callable[[dict, str | None], tuple[int, dict]]


def serve_connection(
    sock: socket.socket,
    handlers: dict[str, Handler],
    drops: Callable[[str | None], bool],
    closed: Callable[[str], None] = lambda sender: None,
) -> None:
    """Answer frames on one peer connection until it closes, misbehaves or goes silent; then
    ``closed(sender)`` with the last sender it named: a peer whose process died closes every
    connection it had at once, a hint worth a probe (node/detector.py)."""
    sock.settimeout(PEER_IDLE_TIMEOUT_S)
    rfile = sock.makefile("rb")
    sender = None
    try:
        if rfile.read(len(MAGIC)) != MAGIC:
            return
        while True:
            message = read_frame(rfile)
            if message is None:
                return
            sender = message.get("from") if isinstance(message.get("from"), str) else None
            if drops(sender):
                gevent.sleep(black_hole_s())  # a partitioned peer's message vanishes
                return
            handler = handlers.get(message.get("op"))
            body = message.get("body")
            if handler is None:
                answer = {"status": NOT_FOUND, "error": f"unknown op {message.get('op')!r}"}
            elif not isinstance(body, dict):
                answer = {"status": BAD_REQUEST, "error": "body must be a JSON object"}
            else:
                status, result = handler(body, sender)
                answer = {"status": status, "body": result}
                if status >= BAD_REQUEST:
                    answer = {"status": status, "error": result.get("error", "bad request")}
            send_all(sock, encode(answer))
    except (WireError, OSError):
        return
    finally:
        rfile.close()
        if sender is not None:
            closed(sender)
