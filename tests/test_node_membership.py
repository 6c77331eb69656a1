"""Membership and SWIM failure detection: the merge rules in-process, then real 5-node clusters
(a SIGKILLed and a SIGSTOPped node marked dead by every survivor, both re-admitted when they
return, a suspected live node refuting)."""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from node import wire
from node.config import GOSSIP_FANOUT, MAX_NEWS, MAX_SLOWDOWN
from node.detector import Detector
from node.gossip import News, transmit_limit
from node.membership import Membership
from node.peerclient import PeerError
from tests.conftest import peer_state, wait_for
from tests.http import call, get

ME = {"node_id": "me", "name": "n1", "http": "http://127.0.0.11:1", "grpc": "127.0.0.11:2"}
N2 = {"node_id": "id2", "name": "n2", "http": "http://127.0.0.12:1", "grpc": "127.0.0.12:2"}


def news(state: str, inc: int, info: dict = N2) -> dict:
    return {**info, "inc": inc, "state": state}


def table() -> Membership:
    members = Membership(dict(ME), None)
    members.learn_all([news("alive", 5)])
    return members


@pytest.mark.parametrize(
    ("first", "then", "expected"),
    [
        (("suspect", 5), ("alive", 5), "suspect"),  # a suspicion stands until a newer alive
        (("suspect", 5), ("alive", 6), "alive"),  # ... which is a refutation
        (("dead", 5), ("suspect", 5), "dead"),
        (("dead", 5), ("alive", 5), "dead"),
        (("dead", 5), ("alive", 6), "alive"),  # a node back with a new incarnation
        (("alive", 4), ("dead", 4), "alive"),  # old news is ignored
    ],
)
def test_news_is_merged_by_swim_rules(first, then, expected):
    members = table()
    members.learn_all([news(*first)])
    members.learn_all([news(*then)])
    assert members.members["id2"].state == expected


def test_a_node_told_it_is_suspect_or_dead_refutes_with_a_higher_incarnation():
    members = table()
    members.resync = lambda teller: None
    before = members.inc
    members.absorb({"news": [news("suspect", before, ME)]})
    assert members.inc == before + 1
    assert members.my_item() in members.news.take(2)
    members.absorb({"self": news("alive", 5), "you": {"state": "dead", "inc": members.inc}})
    assert members.inc == before + 2
    members.absorb({"news": [news("dead", before, ME)]})  # about an older life: nothing to do
    assert members.inc == before + 2


def test_each_refutation_stretches_a_nodes_timeouts_up_to_the_most():
    members = table()
    members.resync = lambda teller: None
    for step in range(MAX_SLOWDOWN + 2):
        members.absorb({"news": [news("suspect", members.inc, ME)]})
        assert members.slowdown == min(MAX_SLOWDOWN, step + 2)


class Unanswered:
    """Stands in for the peer client: records whom gossip went to; nobody answers."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def call_many(self, peers, op, body, *, timeout):
        self.sent += [name for _url, name in peers]
        return [PeerError("timeout", "no answer")] * len(peers)


def test_a_gossip_round_goes_to_a_few_suspects_not_to_all():
    members = table()
    suspects = [news("suspect", 1, {**N2, "node_id": f"s{i}", "name": f"s{i}"}) for i in range(40)]
    members.learn_all(suspects)
    detector = Detector(members)
    detector.client = Unanswered()
    detector._gossip()
    assert len(detector.client.sent) == 2 * GOSSIP_FANOUT  # a few members, a few suspects


def test_a_message_tells_a_member_what_this_node_thinks_of_it():
    members = table()
    n2 = members.members["id2"]
    assert "you" not in members.message_for(n2)
    members.suspect(n2)
    assert members.message_for(n2)["you"] == {"state": "suspect", "inc": 5}


def test_news_goes_out_a_bounded_number_of_times_least_sent_first():
    queue = News()
    for i in range(MAX_NEWS + 4):
        queue.add(news("alive", i, {**N2, "node_id": f"id{i}"}))
    first = queue.take(members=100)
    assert len(first) == MAX_NEWS
    second = queue.take(members=100)
    assert {i["node_id"] for i in second[:4]} == {f"id{i}" for i in range(MAX_NEWS, MAX_NEWS + 4)}
    for _ in range(transmit_limit(100)):
        queue.take(members=100, copies=3)
    assert len(queue) == 0 and queue.take(members=100) == []
    assert transmit_limit(3) < transmit_limit(100)


# -- real clusters -----------------------------------------------------------------------
@pytest.fixture
def five(request):
    from networks.cluster import Cluster

    with Cluster(5, files_per_node=1) as c:
        yield c


def dead_everywhere(cluster, target: str) -> bool:
    others = [n for n in cluster.nodes if n != target]
    return all(peer_state(cluster, o, target) == "dead" for o in others)


def all_alive(cluster) -> bool:
    return all(
        get(f"{n.http}/health")["peers_alive"] == len(cluster.nodes) - 1
        for n in cluster.nodes.values()
    )


@pytest.mark.integration
def test_a_killed_node_is_dead_to_every_survivor_and_readmitted_when_restarted(five):
    started = time.monotonic()
    five.kill("n4")
    wait_for(lambda: dead_everywhere(five, "n4"), timeout=3)
    assert time.monotonic() - started < 3
    five.start("n4")
    wait_for(lambda: all_alive(five), timeout=5)


@pytest.mark.integration
def test_a_frozen_node_is_dead_to_every_survivor_and_refutes_when_it_wakes(five):
    before = get(f"{five.nodes['n1'].http}/peers")["peers"]
    inc = next(p["incarnation"] for p in before if p["name"] == "n2")
    started = time.monotonic()
    five.pause("n2")
    try:
        wait_for(lambda: dead_everywhere(five, "n2"), timeout=4)
        assert time.monotonic() - started < 4
    finally:
        five.resume("n2")
    wait_for(lambda: all_alive(five), timeout=5)
    after = get(f"{five.nodes['n1'].http}/peers")["peers"]
    assert next(p["incarnation"] for p in after if p["name"] == "n2") > inc


@pytest.mark.integration
def test_a_suspected_live_node_refutes_and_is_never_declared_dead(five):
    n1, n3 = five.nodes["n1"].http, five.nodes["n3"].http
    view = {p["name"]: p for p in get(f"{n1}/peers")["peers"]}["n3"]
    accused = {k: view[k] for k in ("node_id", "name", "http", "grpc")}
    rumour = {"news": [{**accused, "inc": view["incarnation"], "state": "suspect"}]}
    assert call("POST", f"{n1}/peers/ping", rumour)[0] == 200

    def refuted() -> bool:
        now = {p["name"]: p for p in get(f"{n1}/peers")["peers"]}["n3"]
        return now["state"] == "alive" and now["incarnation"] > view["incarnation"]

    # n1 believes it and tells n3 at once (suspects get the news first): by the time we ask,
    # n3 may already have refuted it with a higher incarnation, which proves both.
    assert peer_state(five, "n1", "n3") == "suspect" or refuted()

    seen = set()
    deadline = time.monotonic() + 3
    while not refuted() and time.monotonic() < deadline:
        seen |= {peer_state(five, o, "n3") for o in ("n1", "n2", "n4", "n5")}
        time.sleep(0.02)
    assert refuted() and "dead" not in seen
    assert get(f"{n3}/health")["status"] == "ok"


CLOSES = 60


def pings_sent(http: str) -> int:
    with urllib.request.urlopen(f"{http}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found = re.findall(r'peerload_peer_messages_sent_total\{op="ping",[^}]*\} ([0-9.e+]+)', text)
    return int(sum(float(v) for v in found))


@pytest.mark.integration
def test_a_closed_connection_from_a_live_member_costs_no_message(five):
    """A closed peer connection is a hint that its sender may have died, checked by a knock (a
    refused connection is proof). A ping instead would echo: a caller that timed out closes
    its connection, the ping back times out and closes in turn, and so on, under load."""
    n1 = five.nodes["n1"].http
    address = urlsplit(n1)
    frame = wire.MAGIC + wire.encode({"op": "nothing", "from": "n2", "body": {}})
    started, before = time.monotonic(), pings_sent(n1)
    for _ in range(CLOSES):
        with socket.create_connection((address.hostname, address.port), timeout=2) as sock:
            sock.sendall(frame)
            sock.recv(65536)  # the answer (unknown op): n1 now knows the sender, n2
    time.sleep(0.5)
    elapsed, sent = time.monotonic() - started, pings_sent(n1) - before
    probes = elapsed / 0.25 * 2 + 4  # its own probes meanwhile (0.25 s a period), generously
    assert sent < probes, f"{sent} pings for {CLOSES} closed connections in {elapsed:.1f} s"
    assert peer_state(five, "n1", "n2") == "alive"
