"""Bottle, made safe to serve from many greenlets of one OS thread.

The node does not monkey-patch threads (its gRPC server runs in an OS thread of its own, see
node/grpcserver.py and FIELD-NOTES), so Bottle's thread-local request/response would be shared
by every greenlet and answers would get mixed up. We rebind them to greenlet-locals; bottle is
pinned to 0.13.
Also here: the node's server, which answers HTTP and the peer wire protocol on one port.
"""

from __future__ import annotations

import json
import socket

import bottle
import gevent.local
from gevent.pywsgi import WSGIHandler, WSGIServer

from . import wire

LOCAL_REQUEST_FIELDS = ("environ",)
LOCAL_RESPONSE_FIELDS = ("_status_line", "_status_code", "_cookies", "_headers", "body")


def _greenlet_local_property() -> property:
    store = gevent.local.local()

    def fget(_):
        try:
            return store.var
        except AttributeError:
            raise RuntimeError("Request context not initialized.") from None

    def fset(_, value):
        store.var = value

    def fdel(_):
        del store.var

    return property(fget, fset, fdel, "greenlet-local property")


for _field in LOCAL_REQUEST_FIELDS:
    setattr(bottle.LocalRequest, _field, _greenlet_local_property())
for _field in LOCAL_RESPONSE_FIELDS:
    setattr(bottle.LocalResponse, _field, _greenlet_local_property())


def json_response(status: int, body: dict) -> bottle.HTTPResponse:
    """A JSON answer that bypasses Bottle's HTML error pages."""
    return bottle.HTTPResponse(
        json.dumps(body), status=status, headers={"Content-Type": "application/json"}
    )


def fail(status: int, message: str) -> None:
    """Abort the current request with ``{"error": message}``."""
    raise json_response(status, {"error": message})


def install_json_errors(app: bottle.Bottle) -> None:
    """Unknown routes, wrong methods and crashes answer JSON too."""

    def handler(err: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        message = err.body if isinstance(err.body, str) and err.body else err.status_line
        return json.dumps({"error": message})

    for code in (400, 401, 403, 404, 405, 411, 413, 500):
        app.error(code)(handler)


def json_body(max_bytes: int) -> dict:
    """The request's JSON object body, or a 4xx saying what is wrong with it."""
    length = bottle.request.content_length
    if length > max_bytes:
        fail(413, f"body larger than {max_bytes} bytes")
    raw = bottle.request.body.read(max_bytes + 1) if length > 0 else b""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        fail(400, "body is not valid JSON")
    if not isinstance(value, dict):
        fail(400, "body must be a JSON object")
    return value


SMALL_BODY = 64 * 1024


class QuietHandler(WSGIHandler):
    """pywsgi's handler minus two per-request costs (gevent pinned at 26.9)."""

    def log_request(self) -> None:
        pass  # the server runs with log=None, but pywsgi would still format the line

    def _write_with_headers(self, data) -> None:
        # Headers and a small body in one send: one syscall (and one segment) fewer.
        if self.response_use_chunked or not data or len(data) > SMALL_BODY:
            return super()._write_with_headers(data)
        self.headers_sent = True
        self.finalize_headers()
        towrite = bytearray(b"HTTP/1.1 ")
        towrite += self.status
        towrite += b"\r\n"
        for header, value in self.response_headers:
            towrite += header + b": " + value + b"\r\n"
        towrite += b"\r\n"
        towrite += data
        self._sendall(towrite)

    def _sendall(self, data) -> None:
        # pywsgi's, with wire.send_all instead of gevent's sendall (a syscall fewer per answer)
        try:
            wire.send_all(self.socket, data)
        except OSError as exc:
            self.status = f"socket error: {exc}"
            if self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(data)


class NodeServer(WSGIServer):
    """The node's one port: HTTP for clients, the peer wire protocol for nodes.

    TCP_NODELAY is set on every accepted connection: pywsgi writes in pieces and keep-alive
    clients would otherwise wait ~40 ms for a delayed ACK (FIELD-NOTES).
    """

    handler_class = QuietHandler

    def __init__(self, listener, application, *, peer_handler=None, **kw) -> None:
        super().__init__(listener, application, **kw)
        self.peer_handler = peer_handler

    def handle(self, sock, address):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.peer_handler is not None and wire.is_peer_connection(sock):
            try:
                return self.peer_handler(sock)
            finally:
                sock.close()
        return super().handle(sock, address)
