"""The failure detector: SWIM's probes, and the gossip that spreads what they find.

Each protocol period the node probes one member, round-robin over a shuffled list, so every
member is probed by someone about once a period and a node's cost does not grow with the
network (heartbeating every peer did: 20 nodes burnt 187 % of a core); the period grows with
log10 of the network (0.25 s up to 10 nodes, 0.5 s at 100), so 100 nodes fit two cores. A peer
connection that closes is a hint: the node that had it knocks on its sender at once, and a
process that died (every connection of it closed by the kernel) refuses, dead within
milliseconds.

A probe unanswered in ``PROBE_TIMEOUT_S`` is tried again through ``INDIRECT_PROBES`` other
members (a slow link or a busy prober is not a death); still nothing makes the member suspect,
and the suspicion timer in ``node/membership.py`` makes it dead unless it refutes. A refused
connection is proof: dead at once. Dead members are probed too, one every
``DEAD_PROBE_INTERVAL_S``, so a returning node is seen; every message says what the sender
thinks of the receiver, so it refutes at once.

News travels on probes and acks, and while there is any, ``GOSSIP_FANOUT`` random members (and
as many of the suspects, so they can refute) get it every ``GOSSIP_INTERVAL_S``: an epidemic
that reaches N members in O(log N) rounds. Every ``SYNC_INTERVAL_S`` the node swaps whole
member lists with one member, so news missed by the epidemic is never missing for long.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import gevent

from .config import (
    DEAD_PROBE_INTERVAL_S,
    GOSSIP_FANOUT,
    GOSSIP_INTERVAL_S,
    INDIRECT_PROBES,
    INDIRECT_TIMEOUT_S,
    MAX_PROBES_IN_FLIGHT,
    PROBE_INTERVAL_S,
    PROBE_TIMEOUT_S,
    SYNC_INTERVAL_S,
)
from .membership import DEAD, SUSPECT, Member, Membership, scaled
from .peerclient import PeerError

log = logging.getLogger("node.detector")

REFUSED = "refused"


class Detector:
    """Probes, indirect probes, gossip and anti-entropy for one node's ``Membership``."""

    def __init__(self, membership: Membership) -> None:
        self.membership = membership
        self.client = membership.client
        membership.resync = self.resync
        self._order: list[str] = []  # node ids still to probe this round
        self._probing: set[str] = set()  # node ids with a probe in flight
        self._dead_order: list[str] = []
        self._loops: list[gevent.Greenlet] = []
        self._stopped = False
        self._last_resync = -SYNC_INTERVAL_S
        self._chores: list[list] = []  # [period, work, next due]
        self.every(DEAD_PROBE_INTERVAL_S, self._probe_next_dead)
        self.every(SYNC_INTERVAL_S, self._sync)

    def every(self, period: float, work: Callable[[], None]) -> None:
        """Run ``work`` in a greenlet of its own about once a ``period``, from the probe loop."""
        self._chores.append([period, work, time.monotonic() + random.uniform(0, period)])

    def start(self) -> None:
        self._loops = [gevent.spawn(self._run), gevent.spawn(self._gossip_while_news)]

    def stop(self) -> None:
        self._stopped = True
        gevent.killall(self._loops, block=False)
        self._loops = []

    def _run(self) -> None:
        """One probe a period, and the chores that are due. One timer for everything: each
        wakeup of an idle node costs ~0.15 ms, and 100 nodes on 2 cores feel every one. The
        probe runs in a greenlet of its own: one that fails takes its timeouts (0.7 s), and
        waiting for it would stretch the period (an isolated node would need N of them to
        notice N members gone) and make the loop look late to ``_feel``, which would then
        slow down a node whose only trouble is that its peers do not answer."""
        gevent.sleep(random.uniform(0, PROBE_INTERVAL_S))
        due = time.monotonic()
        while True:
            started = time.monotonic()
            self._feel(started - due)
            for chore in self._chores:
                if started >= chore[2]:
                    chore[2] = started + chore[0]
                    gevent.spawn(self._safely, chore[1])
            gevent.spawn(self._safely, self._probe_next)
            period = scaled(PROBE_INTERVAL_S, len(self.membership.members) + 1)
            due = started + period * self.membership.slowdown
            gevent.sleep(max(0.0, due - time.monotonic()))

    def _feel(self, late: float) -> None:
        """Lifeguard's local health: a node whose own timer fires late is starved (a machine
        overloaded, a process just resumed), and its probes would time out on live members.
        Each late tick stretches its period and timeouts one step more (at most
        ``MAX_SLOWDOWN`` times), each punctual one takes a step back: an overloaded network
        probes less and accuses less, instead of drowning in suspicions and refutations."""
        members = self.membership
        if late > PROBE_TIMEOUT_S / 2:
            members.strained()
        elif members.slowdown > 1:
            members.slowdown -= 1

    @staticmethod
    def _safely(work: Callable[[], None]) -> None:
        """An error is logged and the loop goes on: a detector must never die silently and
        leave members 'alive'."""
        try:
            work()
        except Exception:
            log.exception("membership work %s failed once", getattr(work, "__name__", work))

    # -- probes --------------------------------------------------------------------------
    def ping(self, member: Member, timeout: float = PROBE_TIMEOUT_S) -> bool:
        """One direct probe: True if ``member`` answered (its answer taken in), else False;
        a refused connection counts towards proof that it is dead."""
        timeout *= self.membership.slowdown
        started = time.monotonic()
        try:
            answer = self.client.call(
                member.http,
                "ping",
                self.membership.message_for(member),
                timeout=timeout,
                peer_name=member.name,
            )
        except PeerError as exc:
            if exc.kind == REFUSED:
                self.membership.refused(member)
            return False
        self.membership.absorb(answer, rtt_ms=(time.monotonic() - started) * 1000)
        return True

    def probe(self, member: Member) -> None:
        """Direct, then indirect through up to ``INDIRECT_PROBES`` others, then suspect."""
        if self.ping(member) or member.state == DEAD:
            return
        others = [m for m in self.membership.alive() if m.node_id != member.node_id]
        helpers = random.sample(others, min(INDIRECT_PROBES, len(others)))
        body = {"target": member.node_id}
        answers = self.client.call_many(
            [(h.http, h.name) for h in helpers],
            "ping_req",
            body,
            timeout=INDIRECT_TIMEOUT_S * self.membership.slowdown,
        )
        if any(isinstance(a, dict) and a.get("ok") is True for a in answers):
            self.membership.strained()  # others reached it, this node could not: it is slow
        else:
            self.membership.suspect(member)

    def closed(self, sender: str) -> None:
        """A peer connection from ``sender`` ended: if its process died, a connection to it is
        refused now and it is dead at once, without waiting for its turn to be probed.

        A knock, not a ping: a caller that timed out closes its connection too, and a ping
        that timed out in turn would close the other way, each close one more ping: under
        load (200 nodes starting on 2 cores) that echo took most of the nodes' CPU. A knock
        sends no message, so the other side has no sender to knock back."""
        member = self.membership.by_name(sender)
        if member is None or member.state == DEAD or self._stopped:
            return
        if member.node_id in self._probing:
            return  # a probe in flight will tell
        gevent.spawn(self._safely, lambda: self._knock(member))

    def _knock(self, member: Member) -> None:
        timeout = PROBE_TIMEOUT_S * self.membership.slowdown
        if self.client.refuses(member.http, timeout=timeout, peer_name=member.name):
            self.membership.refused(member)

    def on_ping_req(self, body: dict) -> dict:
        """Probe a member for another node that could not reach it."""
        target = self.membership.members.get(body.get("target"))
        return {"ok": target is not None and self.ping(target)}

    def _probe_next(self) -> None:
        if len(self._probing) >= MAX_PROBES_IN_FLIGHT:
            return  # this period's probe is skipped, not queued
        member = self._next(self._order, lambda m: m.state != DEAD)
        if member is None or member.node_id in self._probing:
            return
        self._probing.add(member.node_id)
        try:
            self.probe(member)
        finally:
            self._probing.discard(member.node_id)

    def _probe_next_dead(self) -> None:
        member = self._next(self._dead_order, lambda m: m.state == DEAD)
        if member is not None:
            self.ping(member)

    def _next(self, order: list[str], wanted) -> Member | None:
        """The next member of a round over a shuffled list (a new round when it runs out)."""
        members = self.membership.members
        for _ in range(2):
            while order:
                member = members.get(order.pop())
                if member is not None and wanted(member):
                    return member
            order.extend(m.node_id for m in members.values() if wanted(m))
            if not order:
                return None  # none wanted (no dead member, most of the time): no second scan
            random.shuffle(order)
        return None

    # -- dissemination -------------------------------------------------------------------
    def _gossip_while_news(self) -> None:
        """Asleep until there is news; then a round every ``GOSSIP_INTERVAL_S`` (stretched like
        the probes on a slow node) until it is out."""
        while True:
            self.membership.news.waiting.wait()
            self._safely(self._gossip)
            gevent.sleep(GOSSIP_INTERVAL_S * self.membership.slowdown)

    def _gossip(self) -> None:
        """News to a few random members, and to a few of the suspects it is about (they must
        hear it to refute). A few, not all: when an overloaded network suspects many at once,
        a round to every suspect grew with the suspicions it spread (200 nodes on 2 cores:
        10,000 messages a second, most of them timing out)."""
        news = self.membership.news
        if not news:
            return
        alive = self.membership.alive()
        targets = random.sample(alive, min(GOSSIP_FANOUT, len(alive)))
        members = self.membership.members
        accused = [members.get(node_id) for node_id in news.about()]
        accused = [m for m in accused if m is not None and m.state == SUSPECT and m not in targets]
        targets += random.sample(accused, min(GOSSIP_FANOUT, len(accused)))
        if not targets:
            return
        message = self.membership.message_for(None, copies=len(targets))
        answers = self.client.call_many(
            [(m.http, m.name) for m in targets],
            "ping",
            message,
            timeout=PROBE_TIMEOUT_S * self.membership.slowdown,
        )
        for member, answer in zip(targets, answers, strict=True):
            if isinstance(answer, dict):
                self.membership.absorb(answer)
            elif answer.kind == REFUSED:
                self.membership.refused(member)

    def _sync(self) -> None:
        alive = self.membership.alive()
        if alive:
            self.sync_with(random.choice(alive))

    def sync_with(self, member: Member, *, adopt: bool = False) -> None:
        """Swap whole member lists with ``member`` (anti-entropy)."""
        try:
            self.membership.join_through(
                member.http, link=False, sync=True, adopt=adopt, name=member.name
            )
        except PeerError as exc:
            log.info("sync with %s failed: %s", member.name, exc)

    def resync(self, teller: Member) -> None:
        """This node was declared dead, so it was cut off: it takes the teller's view of the
        members it holds dead (they may be alive; its verdicts were reached alone). At most once
        per ``SYNC_INTERVAL_S``: an overloaded network must not answer accusations with floods
        of whole member lists."""
        now = time.monotonic()
        if now - self._last_resync >= SYNC_INTERVAL_S:
            self._last_resync = now
            self.sync_with(teller, adopt=True)
