"""Bottle, made safe to serve from many greenlets of one OS thread.

The node does not monkey-patch threads (its gRPC server must stay on real OS threads, see
FIELD-NOTES), so Bottle's thread-local request/response would be shared by every greenlet and
answers would get mixed up. We rebind them to greenlet-locals; bottle is pinned to 0.13.
Also here: the gevent WSGI server with TCP_NODELAY on accepted sockets (without it every
keep-alive response waits ~40 ms for a delayed ACK).
"""

from __future__ import annotations

import json
import socket

import bottle
import gevent.local
from gevent.pywsgi import WSGIServer

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
    except ValueError:
        fail(400, "body is not valid JSON")
    if not isinstance(value, dict):
        fail(400, "body must be a JSON object")
    return value


class NoDelayWSGIServer(WSGIServer):
    """pywsgi server that sets TCP_NODELAY on every accepted connection."""

    def handle(self, sock, address):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return super().handle(sock, address)
