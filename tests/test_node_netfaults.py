"""The black-hole policy for partitioned peers: one bounded wait (``black_hole_s``) that REST,
peer frames, peer calls and pulls all take, checked in-process with the bound made short; and
loss, the same black hole for a share of any peer's messages, set through the admin API."""

from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace
from wsgiref.util import setup_testing_defaults

import pytest
from gevent import socket
from gevent.server import StreamServer

from node import netfaults, wire
from node.api import PEER_HEADER, build_app
from node.config import BLACK_HOLE_S
from node.netfaults import NetFaults, black_hole_s
from node.peerclient import PeerClient, PeerError
from node.transfer import Puller, TransferError

SHORT_S = 0.2
SLACK_S = 0.5


@pytest.fixture
def short_black_hole(monkeypatch):
    monkeypatch.setattr(netfaults, "BLACK_HOLE_S", SHORT_S)


def partitioned(*names: str) -> NetFaults:
    faults = NetFaults()
    faults.partition(list(names))
    return faults


def test_a_black_hole_lasts_until_the_callers_deadline_at_most_the_bound():
    assert black_hole_s() == BLACK_HOLE_S
    assert black_hole_s(0.3) == 0.3
    assert black_hole_s(BLACK_HOLE_S * 10) == BLACK_HOLE_S
    assert black_hole_s(-1.0) == 0.0


def timed(func, *args, **kw):
    started = time.monotonic()
    try:
        return func(*args, **kw), time.monotonic() - started
    except Exception as exc:
        return exc, time.monotonic() - started


def test_rest_answers_a_partitioned_peer_503_after_the_bound(short_black_hole):
    node = SimpleNamespace(faults=partitioned("n2"), peer_ops={})
    app = build_app(node)
    header = "HTTP_" + PEER_HEADER.upper().replace("-", "_")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/health", header: "n2"}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    statuses = []
    body, waited = timed(app, environ, lambda status, *_: statuses.append(status))
    assert statuses[0].startswith("503") and json.loads(b"".join(body)) == {"error": "partitioned"}
    assert SHORT_S <= waited < SHORT_S + SLACK_S


def test_a_peer_call_to_a_partitioned_peer_waits_the_bound_not_its_timeout(short_black_hole):
    client = PeerClient("me", None, partitioned("b"))
    error, waited = timed(client.call, "http://127.0.0.1:9", "echo", {}, timeout=5, peer_name="b")
    assert isinstance(error, PeerError) and error.kind == "dropped"
    assert SHORT_S <= waited < SHORT_S + SLACK_S


def test_a_partitioned_peers_frame_is_swallowed_for_the_bound(short_black_hole):
    server = StreamServer(
        ("127.0.0.1", 0), lambda sock, _: wire.serve_connection(sock, {}, lambda peer: True)
    )
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port)) as sock:
            sock.sendall(wire.MAGIC + wire.encode({"op": "flood", "from": "b", "body": {}}))
            answer, waited = timed(wire.read_frame, sock.makefile("rb"))
        assert answer is None  # closed without an answer
        assert SHORT_S <= waited < SHORT_S + SLACK_S
    finally:
        server.stop(timeout=0)


def test_a_pull_from_a_partitioned_peer_is_504_after_the_bound(short_black_hole):
    puller = Puller(None, "me", partitioned("b"), max_size=1)
    error, waited = timed(puller.pull, "127.0.0.1:9", "a", "0" * 64, timeout=30, peer_name="b")
    assert isinstance(error, TransferError) and error.status == 504
    assert SHORT_S <= waited < SHORT_S + SLACK_S


# -- loss: a share of peer messages dropped, drawn per message ----------------------------------
def test_loss_is_a_percent_kept_in_the_state_and_cleared_by_the_heal():
    faults = NetFaults()
    for bad in (-1, 101):
        with pytest.raises(ValueError, match=r"0\.\.100"):
            faults.set_loss(bad)
    faults.set_loss(100)
    assert faults.state() == {"drop": [], "latency_ms": 0, "loss_pct": 100}
    assert faults.drops("b") and not faults.drops(None)  # a client's request is never lost
    faults.heal()
    assert faults.loss_pct == 0 and not faults.drops("b")


def test_a_loss_drops_about_that_share_of_messages():
    faults = NetFaults()
    faults.set_loss(30)
    dropped = sum(faults.drops("b") for _ in range(2000))
    assert 400 < dropped < 800  # 600 expected; the bounds are over 9 standard deviations away


def admin_post(app, path: str, body: bytes) -> tuple[str, dict]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": "Bearer t",
    }
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    statuses = []
    answer = b"".join(app(environ, lambda status, *_: statuses.append(status)))
    return statuses[0], json.loads(answer)


def test_the_admin_api_sets_a_loss_within_range_and_refuses_anything_else_with_a_json_error():
    config = SimpleNamespace(admin_token="t")
    node = SimpleNamespace(config=config, faults=NetFaults(), peer_ops={})
    app = build_app(node)
    status, state = admin_post(app, "/admin/loss", b'{"pct": 30}')
    assert status.startswith("200") and state["loss_pct"] == 30
    for bad in (b'{"pct": 101}', b'{"pct": -1}', b'{"pct": "30"}', b'{"pct": true}', b"{}"):
        status, answer = admin_post(app, "/admin/loss", bad)
        assert status.startswith("400") and "loss must be 0..100" in answer["error"]
    status, answer = admin_post(app, "/admin/loss", b'{"pct": 1, "pad": "' + b"x" * 70_000 + b'"}')
    assert status.startswith("413") and "larger than" in answer["error"]
    assert node.faults.loss_pct == 30  # nothing refused changed it
    status, state = admin_post(app, "/admin/heal", b"{}")
    assert state["loss_pct"] == 0


def test_call_many_draws_each_peers_loss_once(short_black_hole, monkeypatch):
    faults = NetFaults()
    faults.set_loss(50)
    draws = iter([0.1, 0.9])  # 10 < 50: the first message is lost; 90: the second goes out
    monkeypatch.setattr(netfaults.random, "random", lambda: next(draws))
    client = PeerClient("me", None, faults)
    dead = "http://127.0.0.1:9"  # nothing listens: a message that goes out is refused
    first, second = client.call_many([(dead, "a"), (dead, "b")], "echo", {}, timeout=2)
    assert isinstance(first, PeerError) and first.kind == "dropped"
    assert isinstance(second, PeerError) and second.kind == "refused"
