"""Malformed requests for peerload's node, and the edges of its limits (the ``malformed`` check).

Our own peers never send a query of 0 characters, a budget of 0 ms or a member whose gRPC port
is 65536, so no run ever shows whether the node checks for them; a network in the field meets a
buggy or hostile peer sooner or later. Each probe here is one such request, on the client API
(``/search``, ``/files``, ``/download``) or the peer API (``/flood``, ``/peers/...``, the REST
face of the peer protocol), with what it must get: refused with a 4xx; accepted (the edge of a
limit, still valid); or, for membership news, ignored — a peer message is answered whatever its
news, so what shows is that the impostor it names never appears among the node's peers.

The limits are the node's own (``node/config.py``): they are its protocol's.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable
from urllib.parse import quote, urlencode, urlsplit

import grpc

from node.config import (
    MAX_BUDGET_MS,
    MAX_HOPS,
    MAX_NAME_BYTES,
    MAX_PEER_FIELD_CHARS,
    MAX_QUERY_CHARS,
    MAX_QUERY_ID,
)
from node.membership import MAX_INC
from proto import p2p_pb2
from proto.chunks import download_call

from .adapter import ACCEPT, IGNORE, REFUSE, NodeInfo, Probe, Unavailable

PROBE_TIMEOUT_S = 3.0
#: Far above any TTL cap a node may be given (the node's default cap is 7).
TTL_ABOVE_ANY_CAP = 1000
#: An upload size no node accepts: only the header is sent, the node must refuse before reading.
HUGE_UPLOAD = 2**40
#: Where an impostor says it listens: the discard port, nothing answers there.
IMPOSTOR_HOST = "127.0.0.1"
IMPOSTOR_PORT = 9
#: ... as a member's addresses.
IMPOSTOR_AT = {
    "http": f"http://{IMPOSTOR_HOST}:{IMPOSTOR_PORT}",
    "grpc": f"{IMPOSTOR_HOST}:{IMPOSTOR_PORT}",
}


def _exchange(node: NodeInfo, send: Callable[[http.client.HTTPConnection], None]) -> int:
    """The status ``node`` answers what ``send`` writes on a connection of its own (a malformed
    request must not spoil a shared one); ``Unavailable`` when it does not answer."""
    return _answer(node, send)[0]


def _answer(
    node: NodeInfo, send: Callable[[http.client.HTTPConnection], None]
) -> tuple[int, bytes]:
    """``_exchange``'s status, and the body with it."""
    url = urlsplit(node.http)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=PROBE_TIMEOUT_S)
    try:
        send(conn)
        answer = conn.getresponse()
        return answer.status, answer.read()
    except (OSError, http.client.HTTPException) as exc:
        raise Unavailable(f"{node.name}: {type(exc).__name__}: {exc}"[:200]) from None
    finally:
        conn.close()


def status(node: NodeInfo, method: str, path: str, body: bytes = b"", headers=None) -> int:
    """The status ``node`` answers one request with."""
    return _exchange(node, lambda c: c.request(method, path, body=body, headers=headers or {}))


def _oversized_upload(node: NodeInfo) -> int:
    """A PUT that announces ``HUGE_UPLOAD`` bytes and sends none: refused on its header."""

    def announce(conn: http.client.HTTPConnection) -> None:
        conn.putrequest("PUT", f"/files/probe-{uuid.uuid4().hex[:8]}.bin")
        conn.putheader("Content-Length", str(HUGE_UPLOAD))
        conn.endheaders()

    return _exchange(node, announce)


def post(node: NodeInfo, path: str, body: object) -> int:
    """The status ``node`` answers a POST of ``body`` (JSON, or raw bytes as they are)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return status(node, "POST", path, raw, {"Content-Type": "application/json"})


def _listed(node: NodeInfo, member: str) -> dict:
    """``member`` as ``node``'s peers view lists it (its info, state and incarnation)."""
    _, body = _answer(node, lambda conn: conn.request("GET", "/peers"))
    try:
        found = [p for p in json.loads(body)["peers"] if p["name"] == member]
    except (ValueError, KeyError, TypeError):
        raise Unavailable(f"{node.name}: its peers view is not one") from None
    if not found:
        raise Unavailable(f"{node.name} does not list {member}")
    return found[0]


def _info(item: dict) -> dict:
    return {k: item[k] for k in ("node_id", "name", "http", "grpc")}


def _slander(node: NodeInfo, victim: str) -> Callable[[], int]:
    """News that ``victim``, a member ``node`` knows, is dead at an incarnation beyond any a
    node may hold: taken in, it could never be refuted. Its info is the node's own copy, so
    only the incarnation is wrong (a check skipped for news of a known member shows here)."""

    def send() -> int:
        news = {**_info(_listed(node, victim)), "inc": MAX_INC, "state": "dead"}
        return post(node, "/peers/ping", {"self": None, "news": [news]})

    return send


def _hijack(node: NodeInfo, victim: str) -> Probe:
    """News that ``victim`` moved to the impostor's address, at the incarnation ``node`` holds
    for it: only the member itself, with a newer incarnation, may move it (SWIM refutes with
    one), or any peer could redirect a member's traffic to itself. Its harm, read after every
    probe: the node lists ``victim`` at another address than before."""
    before: dict = {}

    def send() -> int:
        item = _listed(node, victim)
        before.update(_info(item))
        news = {**_info(item), **IMPOSTOR_AT, "inc": item["incarnation"], "state": "alive"}
        return post(node, "/peers/ping", {"self": None, "news": [news]})

    def harm() -> str | None:
        now = _info(_listed(node, victim))
        if not before or now == before:
            return None
        return f"{node.name} lists {victim} at {now['http']}, not {before['http']}"

    what = f"news that member {victim} moved, at the incarnation it holds"
    return Probe(what, send, IGNORE, harm=harm)


#: gRPC statuses that refuse a request as a 4xx would (the caller's mistake, said so).
GRPC_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.FAILED_PRECONDITION,
    }
)
#: gRPC statuses of a node that did not answer (gone or too slow), not of a refusal.
GRPC_GONE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def _grpc_download(node: NodeInfo, name: str) -> Callable[[], int]:
    """A gRPC download of ``name``, read as an HTTP-like status: 200 streamed, 400 refused as
    the caller's mistake, 500 any other error (a handler that failed on it)."""

    def send() -> int:
        with grpc.insecure_channel(node.grpc) as channel:
            call = download_call(channel)(
                p2p_pb2.DownloadRequest(name=name), timeout=PROBE_TIMEOUT_S
            )
            try:
                for _ in call:
                    pass
            except grpc.RpcError as exc:
                if exc.code() in GRPC_GONE:
                    raise Unavailable(f"{node.name}: {exc.code().name}") from None
                return 400 if exc.code() in GRPC_REFUSALS else 500
        return 200

    return send


def _post(node: NodeInfo, path: str, body: object) -> Callable[[], int]:
    return lambda: post(node, path, body)


def _search(node: NodeInfo, **params: object) -> Callable[[], int]:
    return lambda: status(node, "GET", f"/search?{urlencode(params)}")


def _flood(**fields: object) -> dict:
    """A forwarded query as a peer sends it, ``fields`` changed (TTL 0: it goes no further)."""
    message = {"id": uuid.uuid4().hex, "q": "probe", "ttl": 0, "hops": 1, "budget_ms": 500}
    return {**message, **fields}


def impostor(name: str, **fields: object) -> dict:
    """A member no node of the network is: well formed but for ``fields``."""
    item = {
        "node_id": f"{name}-id",
        "name": name,
        **IMPOSTOR_AT,
        "inc": 0,
        "state": "alive",
    }
    return {**item, **fields}


#: Membership items that are malformed in one field each: (what is wrong, the changed fields).
BAD_MEMBERS = (
    ("gRPC port 65536", {"grpc": f"{IMPOSTOR_HOST}:65536"}),
    ("gRPC port 0", {"grpc": f"{IMPOSTOR_HOST}:0"}),
    ("no gRPC port", {"grpc": IMPOSTOR_HOST}),
    ("HTTP port 0", {"http": f"http://{IMPOSTOR_HOST}:0"}),
    ("HTTP port 65536", {"http": f"http://{IMPOSTOR_HOST}:65536"}),
    ("HTTP without a host", {"http": f"http://:{IMPOSTOR_PORT}"}),
    ("an ftp:// address", {"http": f"ftp://{IMPOSTOR_HOST}:{IMPOSTOR_PORT}"}),
    ("a node id too long", {"node_id": "x" * (MAX_PEER_FIELD_CHARS + 1)}),
    ("incarnation -1", {"inc": -1}),
    (f"incarnation {MAX_INC}", {"inc": MAX_INC}),
    ("incarnation 1.5", {"inc": 1.5}),
    ("state 'zombie'", {"state": "zombie"}),
)


def _member_probes(node: NodeInfo) -> list[Probe]:
    """Each bad member as a ping's sender, as news in a ping and as a joiner."""
    probes = []
    for n, (wrong, fields) in enumerate(BAD_MEMBERS):
        name = f"impostor-{n}"
        bad = impostor(name, **fields)
        ways = (
            ("ping from a member with", "/peers/ping", {"self": bad}),
            ("news of a member with", "/peers/ping", {"self": None, "news": [bad]}),
            ("join by a member with", "/peers/join", {"self": bad, "link": True}),
        )
        for how, path, body in ways:
            probes.append(Probe(f"{how} {wrong}", _post(node, path, body), IGNORE, name))
    return probes


def builtin_probes(node: NodeInfo, victim: str | None = None) -> list[Probe]:
    """Every probe for one node of ours; ``victim``: another member, for news against it."""
    q_max = "q" * MAX_QUERY_CHARS
    flood = [
        ("a query of 0 characters", _flood(q=""), REFUSE),
        (f"a query of {MAX_QUERY_CHARS + 1} characters", _flood(q=q_max + "q"), REFUSE),
        ("a query that is not text", _flood(q=7), REFUSE),
        ("TTL -1", _flood(ttl=-1), REFUSE),
        (f"TTL {TTL_ABOVE_ANY_CAP}", _flood(ttl=TTL_ABOVE_ANY_CAP), REFUSE),
        ("TTL 1.5", _flood(ttl=1.5), REFUSE),
        ("hops -1", _flood(hops=-1), REFUSE),
        (f"hops {MAX_HOPS + 1}", _flood(hops=MAX_HOPS + 1), REFUSE),
        ("a budget of 0 ms", _flood(budget_ms=0), REFUSE),
        ("a budget of -1 ms", _flood(budget_ms=-1), REFUSE),
        (f"a budget of {MAX_BUDGET_MS + 1} ms", _flood(budget_ms=MAX_BUDGET_MS + 1), REFUSE),
        ("a budget that is not a number", _flood(budget_ms="500"), REFUSE),
        ("a query id of 0 characters", _flood(id=""), REFUSE),
        (
            f"a query id of {MAX_QUERY_ID + 1} characters",
            _flood(id="a" * (MAX_QUERY_ID + 1)),
            REFUSE,
        ),
        ("a query id with '/'", _flood(id="../probe"), REFUSE),
        ("a query of 1 character", _flood(q="q"), ACCEPT),
        (f"a query of {MAX_QUERY_CHARS} characters", _flood(q=q_max), ACCEPT),
        ("a budget of 1 ms", _flood(budget_ms=1), ACCEPT),
        (f"a budget of {MAX_BUDGET_MS} ms", _flood(budget_ms=MAX_BUDGET_MS), ACCEPT),
        (f"hops {MAX_HOPS}", _flood(hops=MAX_HOPS), ACCEPT),
    ]
    probes = [
        Probe(f"flood: {what}", _post(node, "/flood", body), expect) for what, body, expect in flood
    ]
    probes += [
        Probe("flood: a body that is a list", _post(node, "/flood", [1, 2]), REFUSE),
        Probe("flood: a body that is not JSON", _post(node, "/flood", b"{not json"), REFUSE),
        Probe("ping-req: no target", _post(node, "/peers/ping-req", {"target": 7}), REFUSE),
        Probe("search: a term of 0 characters", _search(node, q="", ttl=1), REFUSE),
        Probe(
            f"search: a term of {MAX_QUERY_CHARS + 1} characters",
            _search(node, q=q_max + "q", ttl=1),
            REFUSE,
        ),
        Probe("search: TTL -1", _search(node, q="probe", ttl=-1), REFUSE),
        Probe("search: TTL 'x'", _search(node, q="probe", ttl="x"), REFUSE),
        Probe(
            f"search: TTL {TTL_ABOVE_ANY_CAP}",
            _search(node, q="probe", ttl=TTL_ABOVE_ANY_CAP),
            REFUSE,
        ),
        Probe(
            f"search: a term of {MAX_QUERY_CHARS} characters",
            _search(node, q=q_max, ttl=0),
            ACCEPT,
        ),
        Probe(
            "upload: the name '..'",
            lambda: status(node, "PUT", f"/files/{quote('..', safe='')}", b"x"),
            REFUSE,
        ),
        Probe(
            f"upload: a name of {MAX_NAME_BYTES + 1} bytes",
            lambda: status(node, "PUT", f"/files/{'n' * (MAX_NAME_BYTES + 1)}", b"x"),
            REFUSE,
        ),
        Probe(f"upload: {HUGE_UPLOAD} bytes announced", lambda: _oversized_upload(node), REFUSE),
        Probe("download: a body that is not JSON", _post(node, "/download", b"[oops"), REFUSE),
        Probe(
            "download: a sha256 that is not one",
            _post(node, "/download", {"name": "probe.bin", "sha256": "abc", "from": "n1"}),
            REFUSE,
        ),
        Probe(
            "gRPC download: the name '../catalog.sqlite'",
            _grpc_download(node, "../catalog.sqlite"),
            REFUSE,
        ),
        Probe("gRPC download: an empty name", _grpc_download(node, ""), REFUSE),
    ]
    probes += _member_probes(node)
    if victim is not None:  # last: its victim's state is read right after it
        probes.append(_hijack(node, victim))
        what = f"news that member {victim} is dead at incarnation {MAX_INC}"
        probes.append(Probe(what, _slander(node, victim), IGNORE, victim=victim))
    return probes
