"""The node's REST API: each route parses, calls the node, returns a dict.

Read top to bottom: public routes, admin routes, peer operations, ``build_app``. Each route is
a module-level function of the node (``route(node, **url_args)``, registered in ``ROUTES``), so
a test can import and call it; ``build_app`` binds them to one node. Inputs are checked here
(sizes, types, ranges) so the logic below never sees a malformed value; peer messages are
checked by their operation (``node/peerops.py``), shared with the wire protocol. The routes see
the node through ``PeerNode``, so this module does not import the server that builds the app.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import gevent
from bottle import Bottle, request, response

from .catalog import Catalog, FileRecord, NoSpace
from .config import DEFAULT_TTL, MAX_JSON_BODY, MAX_QUERY_CHARS, MAX_SEARCH_DEADLINE_S, NodeConfig
from .flood import Flood
from .membership import Membership
from .metrics import CONTENT_TYPE, NodeMetrics
from .names import BadName, check_name
from .netfaults import NetFaults, black_hole_s
from .peerops import PeerOp
from .transfer import TransferError
from .web import fail, install_json_errors, json_body

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
PEER_HEADER = "X-Peer"  # who sent a peer message over REST (curl, old peers)
MAX_METRIC_NAMES = 64  # ``name[]`` filters of one scrape
INSUFFICIENT_STORAGE = 507  # a write the node's disk has no room for (RFC 4918)


class PeerNode(Protocol):
    """What the routes need from a node (``node.server.Node`` is one)."""

    config: NodeConfig
    catalog: Catalog
    membership: Membership
    flood: Flood
    faults: NetFaults
    peer_ops: dict[str, PeerOp]
    metrics: NodeMetrics

    def health(self) -> dict: ...
    def put_file(self, name: str, data: bytes) -> FileRecord: ...
    def rescan(self) -> list[FileRecord]: ...
    def download(self, name: str, sha256: str, source: str, *, force: bool = False) -> dict: ...


def int_param(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], or a 400 that names it."""
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?\d{1,9}", raw.strip()):
        fail(400, f"{name} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        fail(400, f"{name} must be between {low} and {high}")
    return value


def checked_name(name: str) -> str:
    try:
        return check_name(name)
    except BadName as exc:
        fail(400, str(exc))


@dataclass(frozen=True)
class Route:
    """One REST route: ``func(node, **url_args)`` answers ``method path``; ``admin``: the
    token is checked first."""

    method: str
    path: str
    func: Callable[..., dict]
    admin: bool = False


ROUTES: list[Route] = []


def route(method: str, path: str, *, admin: bool = False) -> Callable:
    """Register the decorated function in ``ROUTES``."""

    def register(func: Callable[..., dict]) -> Callable[..., dict]:
        ROUTES.append(Route(method, path, func, admin))
        return func

    return register


def drop_partitioned_peer(node: PeerNode) -> None:
    """A partitioned peer's request is swallowed, like a packet on a cut link."""
    if node.faults.drops(request.get_header(PEER_HEADER)):
        gevent.sleep(black_hole_s())
        fail(503, "partitioned")


def require_token(node: PeerNode) -> None:
    expected = node.config.admin_token
    if not expected:
        fail(403, "admin API disabled: start the node with --admin-token or PEERLOAD_TOKEN")
    given = request.get_header("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        fail(401, "missing or wrong token")


# -- public ------------------------------------------------------------------------------
@route("GET", "/health")
def health(node: PeerNode) -> dict:
    return node.health()


@route("GET", "/peers")
def peers(node: PeerNode) -> dict:
    return {"peers": node.membership.view()}


@route("GET", "/search")
def search(node: PeerNode) -> dict:
    q = request.query.getunicode("q") or ""
    if not 1 <= len(q) <= MAX_QUERY_CHARS:
        fail(400, f"q must be 1..{MAX_QUERY_CHARS} characters")
    ttl = int_param(request.query.get("ttl"), "ttl", DEFAULT_TTL, 0, node.config.ttl_cap)
    deadline_ms = int_param(
        request.query.get("deadline_ms"),
        "deadline_ms",
        int(node.config.search_deadline_s * 1000),
        1,
        int(MAX_SEARCH_DEADLINE_S * 1000),
    )
    return node.flood.search(q, ttl, deadline_ms / 1000)


@route("GET", "/metrics")
def metrics_text(node: PeerNode) -> bytes:
    """Prometheus text format (node/metrics.py); ``?name[]=N`` (repeatable) keeps only the
    samples named N. Public like /health: counts and process figures, no names of files or
    queries, on the node's own address (README, "Metrics")."""
    names = request.query.getall("name[]")
    if len(names) > MAX_METRIC_NAMES or any(len(n) > MAX_QUERY_CHARS for n in names):
        fail(400, f"at most {MAX_METRIC_NAMES} name[] of {MAX_QUERY_CHARS} characters each")
    response.content_type = CONTENT_TYPE
    return node.metrics.exposition(names)


@route("GET", "/files")
def files(node: PeerNode) -> dict:
    return {"files": [r.to_dict() for r in node.catalog.all()]}


@route("GET", "/files/<name>")
def file_info(node: PeerNode, name: str) -> dict:
    record = node.catalog.get(checked_name(name))
    if record is None:
        fail(404, f"no file named {name!r}")
    return record.to_dict()


@route("PUT", "/files/<name>")
def put_file(node: PeerNode, name: str) -> dict:
    checked_name(name)
    length = request.content_length
    if length < 0:
        fail(411, "Content-Length required")
    if length > node.config.max_upload:
        fail(413, f"upload larger than the limit of {node.config.max_upload} bytes")
    data = request.body.read(length)
    if len(data) != length:
        fail(400, "body shorter than Content-Length")
    try:
        record = node.put_file(name, data)
    except NoSpace as exc:  # nothing stored, nothing acknowledged: the client may retry elsewhere
        fail(INSUFFICIENT_STORAGE, str(exc))
    response.status = 201
    return record.to_dict()


@route("POST", "/files/rescan")
def rescan(node: PeerNode) -> dict:
    added = node.rescan()
    return {"added": [r.to_dict() for r in added], "files": len(node.catalog)}


@route("POST", "/download")
def download(node: PeerNode) -> dict:
    body = json_body(MAX_JSON_BODY)
    name = checked_name(body.get("name"))
    sha = body.get("sha256")
    source = body.get("from")
    if not isinstance(sha, str) or not SHA256_RE.match(sha):
        fail(400, "sha256 must be 64 lowercase hex characters")
    if not isinstance(source, str) or not 1 <= len(source) <= 255:
        fail(400, "from must be a node name or a gRPC address host:port")
    try:
        return node.download(name, sha, source, force=bool(body.get("force")))
    except TransferError as exc:
        fail(exc.status, str(exc))


# -- admin (token) -----------------------------------------------------------------------
@route("GET", "/admin/faults", admin=True)
def faults_state(node: PeerNode) -> dict:
    return node.faults.state()


@route("POST", "/admin/partition", admin=True)
def partition(node: PeerNode) -> dict:
    drop = json_body(MAX_JSON_BODY).get("drop")
    if not isinstance(drop, list) or not all(isinstance(n, str) and n for n in drop):
        fail(400, "drop must be a list of peer names")
    node.faults.partition(drop)
    return node.faults.state()


@route("POST", "/admin/latency", admin=True)
def latency(node: PeerNode) -> dict:
    ms = json_body(MAX_JSON_BODY).get("ms")
    try:
        node.faults.set_latency(ms if type(ms) is int else -1)
    except ValueError as exc:
        fail(400, str(exc))
    return node.faults.state()


@route("POST", "/admin/loss", admin=True)
def loss(node: PeerNode) -> dict:
    pct = json_body(MAX_JSON_BODY).get("pct")
    try:
        node.faults.set_loss(pct if type(pct) is int else -1)
    except ValueError as exc:
        fail(400, str(exc))
    return node.faults.state()


@route("POST", "/admin/heal", admin=True)
def heal(node: PeerNode) -> dict:
    node.faults.heal()
    return node.faults.state()


# -- peer to peer (node/peerops.py) ------------------------------------------------------
def peer_route(op: PeerOp) -> Callable[[], dict]:
    """A peer operation served over REST: the sender in ``X-Peer``, errors as JSON."""

    def answer() -> dict:
        status, body = op.run(json_body(MAX_JSON_BODY), request.get_header(PEER_HEADER))
        if status >= 400:
            fail(status, body.get("error", "bad request"))
        return body

    return answer


# -- the app -----------------------------------------------------------------------------
def bind(r: Route, node: PeerNode) -> Callable[..., dict]:
    """``r`` as a Bottle callback for ``node`` (URL arguments come as keywords)."""

    @functools.wraps(r.func)
    def callback(**url_args: str) -> dict:
        if r.admin:
            require_token(node)
        return r.func(node, **url_args)

    return callback


def build_app(node: PeerNode) -> Bottle:
    """The REST API of ``node``; the server wraps it and serves it with the peer protocol."""
    app = Bottle()
    install_json_errors(app)
    app.add_hook("before_request", functools.partial(drop_partitioned_peer, node))
    for r in ROUTES:
        app.route(r.path, r.method, bind(r, node))
    for op in node.peer_ops.values():
        app.post(op.path, callback=peer_route(op))
    return app
