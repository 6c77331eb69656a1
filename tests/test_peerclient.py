"""PeerClient.call_many against real wire-protocol servers on loopback (gevent, in-process)."""

from __future__ import annotations

import time

import gevent
import pytest
from gevent import socket
from gevent.server import StreamServer

from node import wire
from node.netfaults import NetFaults
from node.peerclient import PeerClient, PeerError


class EchoPeer:
    """A wire-protocol server answering ``echo`` with who it is, after ``delay_s``."""

    def __init__(self, name: str, delay_s: float = 0.0) -> None:
        self.name, self.delay_s = name, delay_s
        self.seen: list[str] = []
        self.conns: list = []
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _handle(self, sock, _address) -> None:
        self.conns.append(sock)
        wire.serve_connection(sock, {"echo": self._echo}, lambda _peer: False)

    def _echo(self, body: dict, sender: str | None) -> tuple[int, dict]:
        self.seen.append(body["n"])
        gevent.sleep(self.delay_s)
        return wire.OK, {"me": self.name, "n": body["n"]}

    def restart(self) -> None:
        """Drop every connection (pooled ones in the client go stale) and listen again."""
        port = self.server.server_port
        self.server.stop(timeout=0)
        for sock in self.conns:
            sock.shutdown(socket.SHUT_RDWR)
        self.conns.clear()
        self.server = StreamServer(("127.0.0.1", port), self._handle)
        self.server.start()

    def stop(self) -> None:
        self.server.stop(timeout=0)
        for sock in self.conns:
            sock.close()


@pytest.fixture
def peers():
    made = [EchoPeer("a"), EchoPeer("b")]
    yield made
    for p in made:
        p.stop()


def free_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed


def test_answers_in_order_and_each_peer_sees_the_message_once(peers):
    client = PeerClient("me", None, NetFaults())
    for n in range(3):  # the first round connects, the next ones reuse pooled connections
        answers = client.call_many([(p.url, p.name) for p in peers], "echo", {"n": n}, timeout=2)
        assert answers == [{"me": "a", "n": n}, {"me": "b", "n": n}]
    assert [p.seen for p in peers] == [[0, 1, 2], [0, 1, 2]]


def test_peers_work_in_parallel(peers):
    client = PeerClient("me", None, NetFaults())
    for p in peers:
        p.delay_s = 0.3
    client.call_many([(p.url, p.name) for p in peers], "echo", {"n": 0}, timeout=2)  # pool warm
    started = time.monotonic()
    client.call_many([(p.url, p.name) for p in peers], "echo", {"n": 1}, timeout=2)
    assert time.monotonic() - started < 0.55  # one delay, not two


def test_a_dead_and_a_slow_peer_do_not_cost_the_live_one_its_answer(peers):
    client = PeerClient("me", None, NetFaults())
    slow = EchoPeer("slow", delay_s=5)
    try:
        targets = [(free_port_url(), "gone"), (slow.url, "slow"), (peers[0].url, "a")]
        started = time.monotonic()
        gone, late, live = client.call_many(targets, "echo", {"n": 7}, timeout=0.5)
        assert time.monotonic() - started < 1.5
        assert isinstance(gone, PeerError) and gone.kind == "refused"
        assert isinstance(late, PeerError) and late.kind == "timeout"
        assert live == {"me": "a", "n": 7}
    finally:
        slow.stop()


def test_stale_pooled_connections_are_retried_on_fresh_ones(peers):
    client = PeerClient("me", None, NetFaults())
    targets = [(p.url, p.name) for p in peers]
    assert all(
        not isinstance(a, PeerError) for a in client.call_many(targets, "echo", {"n": 1}, timeout=2)
    )
    for p in peers:
        p.restart()
    gevent.sleep(0.05)
    answers = client.call_many(targets, "echo", {"n": 2}, timeout=2)
    assert answers == [{"me": "a", "n": 2}, {"me": "b", "n": 2}]
    assert [p.seen for p in peers] == [[1, 2], [1, 2]]  # retried, not delivered twice


def test_a_partitioned_peer_is_dropped_until_the_deadline(peers):
    faults = NetFaults()
    faults.partition(["b"])
    client = PeerClient("me", None, faults)
    started = time.monotonic()
    a, b = client.call_many([(p.url, p.name) for p in peers], "echo", {"n": 3}, timeout=0.4)
    assert a == {"me": "a", "n": 3}
    assert isinstance(b, PeerError) and b.kind == "dropped"
    assert 0.35 <= time.monotonic() - started < 1.0
    assert peers[1].seen == []  # nothing reached it
