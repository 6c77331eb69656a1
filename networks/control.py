"""The cluster's control API: kill, stop, start, pause and resume nodes over HTTP (token), and
fill or free their data dirs' small disks (the disk_full fault).

It runs on a stdlib WSGI server in a thread so it works in every host process: a real thread
in a plain process (pytest), a greenlet in a monkey-patched one (Locust). It serves anything
shaped like ``Controlled`` (``networks.cluster.Cluster`` is one), so it does not import the cluster
that starts it.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Container
from socketserver import ThreadingMixIn
from typing import Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bottle import Bottle, request

from node.web import fail, install_json_errors

ACTIONS = ("kill", "stop", "start", "pause", "resume", "fill_disk", "free_disk", "wipe")


class Controlled(Protocol):
    """What the control API acts on: a token, node names, their states and one method per
    action in ``ACTIONS`` (each takes a node name and returns its info; ``ValueError`` when the
    node's state does not allow it)."""

    token: str
    nodes: Container[str]

    def status(self) -> list[dict]: ...
    def kill(self, name: str) -> dict: ...
    def stop(self, name: str) -> dict: ...
    def start(self, name: str) -> dict: ...
    def pause(self, name: str) -> dict: ...
    def resume(self, name: str) -> dict: ...
    def fill_disk(self, name: str) -> dict: ...
    def free_disk(self, name: str) -> dict: ...
    def wipe(self, name: str) -> dict: ...


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def build_control_app(cluster: Controlled) -> Bottle:
    app = Bottle()
    install_json_errors(app)

    @app.hook("before_request")
    def require_token():
        given = request.get_header("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {cluster.token}".encode()):
            fail(401, "missing or wrong token")

    @app.get("/nodes")
    def nodes():
        return {"nodes": cluster.status()}

    @app.post("/nodes/<name>/<action>")
    def act(name, action):
        if action not in ACTIONS:
            fail(404, f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        if name not in cluster.nodes:
            fail(404, f"unknown node {name!r}")
        try:
            return getattr(cluster, action)(name)
        except ValueError as exc:  # e.g. starting a running node
            fail(409, str(exc))
        except (RuntimeError, TimeoutError, OSError) as exc:  # a restart that did not come up
            fail(503, str(exc))

    return app


class ControlServer:
    """The control API on ``host:port`` (0 picks a free port), served from a thread."""

    def __init__(self, cluster: Controlled, host: str, port: int) -> None:
        self.server = make_server(
            host,
            port,
            build_control_app(cluster),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
