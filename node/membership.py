"""Who is in the network and in what state: one node's member table and SWIM's rules for it.

Every member has an incarnation number that only it may raise, and a state: alive, suspect or
dead. News about a member (from a probe, an ack, gossip or a join) is applied by SWIM's rules
(memberlist's ``aliveNode`` / ``suspectNode`` / ``deadNode``): alive news wins with a higher
incarnation; suspect news wins over alive at the same incarnation; dead news over both. News
that changed something is passed on (``node/gossip.py``). A node that hears it is suspected
or dead refutes by raising its incarnation, so a live node is never dead for long; one told it
was dead had been cut off, so it also takes a member list from the teller (``resync``) instead
of trusting the dead verdicts it reached alone. Every message also carries the sender's view of
the receiver when that is not alive (``you``), so a suspect or returning node learns it at the
first contact. The failure detector that probes members lives in ``node/detector.py``.

A node starts at an incarnation made from the clock (milliseconds), so a restarted node is
newer than anything said about its previous life.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import gevent

from .config import (
    DEAD_AFTER_REFUSALS,
    JOIN_TIMEOUT_S,
    MAX_MEMBERS,
    MAX_NEWS,
    MAX_PEER_FIELD_CHARS,
    MAX_SLOWDOWN,
    SUSPICION_S,
)
from .gossip import News
from .peerclient import PeerClient, PeerError

log = logging.getLogger("node.membership")

ALIVE, SUSPECT, DEAD = "alive", "suspect", "dead"
STATES = (ALIVE, SUSPECT, DEAD)
INFO_FIELDS = ("node_id", "name", "http", "grpc")
MAX_INC = 2**53  # incarnations stay exact in every JSON reader
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
HOST_PORT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,253}:(\d{1,5})$")


def valid_info(info: object) -> bool:
    """Peer info as a node would send it: anything else is ignored, never stored or gossiped
    (a bad address would otherwise break every search that floods to it)."""
    if not isinstance(info, dict):
        return False
    values = [info.get(k) for k in INFO_FIELDS]
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_PEER_FIELD_CHARS for v in values):
        return False
    node_id, name, http, grpc_addr = values
    if not NAME_RE.match(name) or not NAME_RE.match(node_id):
        return False
    try:
        url = urlsplit(http)
        port = url.port
    except ValueError:
        return False
    grpc_match = HOST_PORT_RE.match(grpc_addr)
    return (
        url.scheme == "http"
        and bool(url.hostname)
        and port is not None
        and 0 < port < 65536
        and grpc_match is not None
        and 0 < int(grpc_match.group(1)) < 65536
    )


def valid_item(item: object) -> bool:
    """A member as news carries it: its info, incarnation and state."""
    return (
        valid_info(item)
        and type(item.get("inc")) is int
        and 0 <= item["inc"] < MAX_INC
        and item.get("state") in STATES
    )


def items(raw: object, limit: int, known: dict[str, Member] | None = None) -> list[dict]:
    """The well-formed members of a list from a peer, at most ``limit`` of them; one that
    repeats a ``known`` member's info exactly skips the parsing (most news, every probe)."""
    if not isinstance(raw, list):
        return []
    return [i for i in raw[:limit] if _same(i, known) or valid_item(i)]


def _same(item: object, known: dict[str, Member] | None) -> bool:
    member = known.get(item.get("node_id")) if known and isinstance(item, dict) else None
    return (
        member is not None
        and (item.get("name"), item.get("http"), item.get("grpc"))
        == (member.name, member.http, member.grpc)
        and type(item.get("inc")) is int
        and 0 <= item["inc"] < MAX_INC
        and item.get("state") in STATES
    )


def scaled(base: float, members: int) -> float:
    """``base`` times log10 of the network's size, at least once: how memberlist scales its
    suspicion timeout (news takes log N rounds to reach everyone)."""
    return base * max(1.0, math.log10(max(members, 1)))


@dataclass
class Member:
    node_id: str
    name: str
    http: str
    grpc: str
    inc: int = 0
    state: str = ALIVE
    changed: float = field(default_factory=time.monotonic)  # when the state last changed
    last_seen_wall: float | None = None
    rtt_ms: float | None = None
    refusals: int = 0  # connections refused in a row

    def info(self) -> dict:
        return {k: getattr(self, k) for k in INFO_FIELDS}

    def item(self) -> dict:
        return {**self.info(), "inc": self.inc, "state": self.state}

    def view(self, neighbour: bool) -> dict:
        seen = None if self.last_seen_wall is None else round(time.time() - self.last_seen_wall, 3)
        rtt = None if self.rtt_ms is None else round(self.rtt_ms, 3)
        return {
            **self.info(),
            "state": self.state,
            "incarnation": self.inc,
            "neighbour": neighbour,
            "last_seen_s": seen,
            "rtt_ms": rtt,
        }


class Membership:
    """The member table of one node: what it knows, the rules that change it, the messages
    that carry it. ``remember``/``forget`` keep members across restarts (the catalog)."""

    def __init__(
        self,
        me: dict,
        client: PeerClient,
        *,
        remember: Callable[[list[dict]], None] = lambda members: None,
        forget: Callable[[str], None] = lambda node_id: None,
    ) -> None:
        self.me = me
        self.client = client
        self.inc = int(time.time() * 1000)
        self.remember = remember
        self.forget = forget
        self.members: dict[str, Member] = {}
        self.news = News()
        self.neighbours: Container[str] = frozenset()  # set by node/neighbours.py
        self.resync: Callable[[Member], None] = lambda member: None  # set by node/detector.py
        self.slowdown = 1  # how starved this node is (node/detector.py): its timeouts stretch
        self._timers: dict[str, gevent.Greenlet] = {}
        self._unsaved: list[dict] = []

    # -- queries -------------------------------------------------------------------------
    def my_item(self) -> dict:
        return {**self.me, "inc": self.inc, "state": ALIVE}

    def alive(self) -> list[Member]:
        """Members worth talking to: alive or merely suspect."""
        return [m for m in self.members.values() if m.state != DEAD]

    def in_state(self, state: str) -> list[Member]:
        return [m for m in self.members.values() if m.state == state]

    def by_name(self, name: str) -> Member | None:
        return next((m for m in self.members.values() if m.name == name), None)

    def counts(self) -> tuple[int, int]:
        return len(self.in_state(ALIVE)), len(self.members)

    def view(self) -> list[dict]:
        ordered = sorted(self.members.values(), key=lambda m: m.name)
        return [m.view(m.node_id in self.neighbours) for m in ordered]

    # -- SWIM's rules --------------------------------------------------------------------
    def apply(self, item: dict, *, first_hand: bool = False, adopt: bool = False) -> Member | None:
        """Merge one well-formed piece of news; the member it is about (None: ignored).
        ``first_hand``: the member itself sent it; ``adopt``: a resync, where alive news wins
        over a dead verdict of the same incarnation."""
        node_id, inc, state = item["node_id"], item["inc"], item["state"]
        if node_id == self.me["node_id"]:
            return None
        member = self.members.get(node_id)
        if member is None:
            return self._add(item, first_hand)
        newer = inc > member.inc
        if newer and (member.http, member.grpc) != (item["http"], item["grpc"]):
            member.http, member.grpc = item["http"], item["grpc"]
            self._unsaved.append(member.info())
        accept = {
            ALIVE: newer or (adopt and member.state == DEAD and inc == member.inc),
            SUSPECT: newer or (inc == member.inc and member.state == ALIVE),
            DEAD: newer or (inc == member.inc and member.state != DEAD),
        }[state]
        if accept:
            self._set(member, state, inc)
        return member

    def _add(self, item: dict, first_hand: bool) -> Member | None:
        stale = self.by_name(item["name"])  # same name, new identity: it was rebuilt
        if stale is not None:
            if not first_hand:
                return None  # only the node itself may replace its identity, not gossip
            self._drop(stale.node_id)
        if len(self.members) >= MAX_MEMBERS:
            log.warning("ignoring member %s: already %d members", item["name"], MAX_MEMBERS)
            return None
        member = Member(**{k: item[k] for k in INFO_FIELDS}, inc=item["inc"])
        self.members[member.node_id] = member
        self._unsaved.append(member.info())
        self._set(member, item["state"], item["inc"], force=True)
        return member

    def _drop(self, node_id: str) -> None:
        self.members.pop(node_id, None)
        self.forget(node_id)
        self._cancel_timer(node_id)

    def _set(self, member: Member, state: str, inc: int, *, force: bool = False) -> None:
        """A change accepted: record it, pass it on, time a suspicion."""
        if not force and (member.state, member.inc) == (state, inc):
            return
        if member.state != state:
            log.info("member %s: %s -> %s (inc %d)", member.name, member.state, state, inc)
            member.changed = time.monotonic()
        member.state, member.inc = state, inc
        self.news.add(member.item())
        self._cancel_timer(member.node_id)
        if state == SUSPECT:
            timeout = scaled(SUSPICION_S, len(self.members) + 1) * self.slowdown
            self._timers[member.node_id] = gevent.spawn_later(
                timeout, self._suspicion_over, member.node_id, inc
            )

    def _cancel_timer(self, node_id: str) -> None:
        timer = self._timers.pop(node_id, None)
        if timer is not None:
            timer.kill(block=False)

    def _suspicion_over(self, node_id: str, inc: int) -> None:
        self._timers.pop(node_id, None)
        member = self.members.get(node_id)
        if member is not None and member.state == SUSPECT and member.inc == inc:
            self.declare_dead(member)

    def suspect(self, member: Member) -> None:
        """This node's own probes went unanswered, directly and through others."""
        if member.state == ALIVE:
            self._set(member, SUSPECT, member.inc)

    def refused(self, member: Member) -> None:
        """A connection to ``member`` was refused: nothing listens there, the process is gone."""
        member.refusals += 1
        if member.refusals >= DEAD_AFTER_REFUSALS:
            self.declare_dead(member)

    def declare_dead(self, member: Member) -> None:
        """Proof (a refused connection) or an unrefuted suspicion: the member is dead."""
        if member.state != DEAD:
            self._set(member, DEAD, member.inc)

    def strained(self) -> None:
        """Lifeguard's other signs of a slow node, besides a late timer (node/detector.py): a
        probe that others answered for it, and an accusation it has to refute. Each stretches
        its period and timeouts one step; each punctual tick of its loop takes one back."""
        self.slowdown = min(MAX_SLOWDOWN, self.slowdown + 1)

    def refute(self, accused_inc: int) -> None:
        """Someone thinks this node suspect or dead: a higher incarnation says otherwise."""
        self.strained()
        self.inc = max(self.inc, accused_inc) + 1
        self.news.add(self.my_item())
        log.info("refuting: now at incarnation %d", self.inc)

    # -- messages ------------------------------------------------------------------------
    def message_for(self, member: Member | None, copies: int = 1) -> dict:
        """What this node sends ``member`` (a probe, an ack, gossip): itself, its news, and
        what it thinks of ``member`` when that is not alive."""
        message = {"self": self.my_item(), "news": self.news.take(len(self.members), copies)}
        if member is not None and member.state != ALIVE:
            message["you"] = {"state": member.state, "inc": member.inc}
        return message

    def absorb(self, message: dict, rtt_ms: float | None = None) -> Member | None:
        """Take in a probe, an ack or gossip; the member who sent it (if it said who)."""
        sender = None
        me = message.get("self")
        if items([me], 1, self.members) and me["state"] == ALIVE:
            sender = self.apply(me, first_hand=True)
        if sender is not None:
            sender.last_seen_wall = time.time()
            sender.refusals = 0
            if rtt_ms is not None:
                sender.rtt_ms = rtt_ms
        you = message.get("you")
        if isinstance(you, dict):
            self._heard_about_me(you.get("state"), you.get("inc"), sender)
        for item in items(message.get("news"), MAX_NEWS, self.members):
            if item["node_id"] == self.me["node_id"]:
                self._heard_about_me(item["state"], item["inc"], sender)
            else:
                self.apply(item)
        self.save()
        return sender

    def _heard_about_me(self, state: object, inc: object, teller: Member | None) -> None:
        if state not in (SUSPECT, DEAD) or type(inc) is not int or not inc >= self.inc:
            return
        self.refute(inc)
        if state == DEAD and teller is not None:
            gevent.spawn(self.resync, teller)

    def learn_all(self, raw: object, *, adopt: bool = False) -> None:
        """A member list (a join's answer, a resync): each member merged by the rules."""
        for item in items(raw, MAX_MEMBERS, self.members):
            if item["node_id"] == self.me["node_id"]:
                self._heard_about_me(item["state"], item["inc"], None)
            else:
                self.apply(item, adopt=adopt)
        self.save()

    def restore(self, known: Iterable[dict]) -> None:
        """Members remembered from a previous life, alive until probes say otherwise."""
        for info in known:
            if valid_info(info):
                self.apply({**info, "inc": 0, "state": ALIVE})
        self._unsaved.clear()
        self.news = News()  # nothing new to tell: these may be long gone

    def save(self) -> None:
        """New members and addresses to the catalog, one write per message."""
        if self._unsaved:
            unsaved, self._unsaved = self._unsaved, []
            self.remember(unsaved)

    def join_through(
        self, url: str, *, link: bool, sync: bool, adopt: bool = False, name: str | None = None
    ) -> tuple[Member | None, bool]:
        """A join (``node/peerops.py``) sent to ``url``: the member who answered and whether it
        took this node as a neighbour; ``PeerError`` if it did not answer."""
        body = {"self": self.my_item(), "link": link, "sync": sync}
        answer = self.client.call(url, "join", body, timeout=JOIN_TIMEOUT_S, peer_name=name)
        member = self.absorb(answer)
        if sync:
            self.learn_all(answer.get("members"), adopt=adopt)
        return member, bool(answer.get("linked")) and member is not None

    def on_join(self, body: dict, link: Callable[[Member], bool]) -> dict:
        """A join received: the joiner is a member, a neighbour if ``link`` takes it, and gets
        every member this node knows when it asks (``sync``)."""
        joiner = self.absorb(body)
        linked = bool(body.get("link")) and joiner is not None and link(joiner)
        answer = {**self.message_for(joiner), "linked": linked}
        if body.get("sync"):
            answer["members"] = [m.item() for m in self.members.values()]
        return answer


__all__ = ["ALIVE", "DEAD", "SUSPECT", "Member", "Membership", "PeerError", "valid_info"]
