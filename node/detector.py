"""The failure detector: SWIM's probes, and the gossip that spreads what they find.

Each protocol period the node probes one member, round-robin over a shuffled list, so every
member is probed by someone about once a period and a node's cost does not grow with the
network (heartbeating every peer did: 20 nodes burnt 187 % of a core). A probe unanswered in
``PROBE_TIMEOUT_S`` is tried again through ``INDIRECT_PROBES`` other members (a slow link or a
busy prober is not a death); still nothing makes the member suspect, and the suspicion timer in
``node/membership.py`` makes it dead unless it refutes. A refused connection is proof: dead at
once. Dead members are probed too, one every ``DEAD_PROBE_INTERVAL_S``, so a returning node is
seen; every message says what the sender thinks of the receiver, so it refutes at once.

News travels on probes and acks, and while there is any, ``GOSSIP_FANOUT`` random members (and
the suspects themselves, so they can refute) get it every ``GOSSIP_INTERVAL_S``: an epidemic
that reaches N members in O(log N) rounds. Every ``SYNC_INTERVAL_S`` the node swaps whole
member lists with one member, so news missed by the epidemic is never missing for long.
"""

from __future__ import annotations

import logging
import random
import time

import gevent

from .config import (
    DEAD_PROBE_INTERVAL_S,
    GOSSIP_FANOUT,
    GOSSIP_INTERVAL_S,
    INDIRECT_PROBES,
    INDIRECT_TIMEOUT_S,
    PROBE_INTERVAL_S,
    PROBE_TIMEOUT_S,
    SYNC_INTERVAL_S,
)
from .membership import DEAD, SUSPECT, Member, Membership
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
        self._dead_order: list[str] = []
        self._loops: list[gevent.Greenlet] = []

    def start(self) -> None:
        self._loops = [
            gevent.spawn(self._every, PROBE_INTERVAL_S, self._probe_next),
            gevent.spawn(self._every, DEAD_PROBE_INTERVAL_S, self._probe_next_dead),
            gevent.spawn(self._every, GOSSIP_INTERVAL_S, self._gossip),
            gevent.spawn(self._every, SYNC_INTERVAL_S, self._sync, jitter=True),
        ]

    def stop(self) -> None:
        gevent.killall(self._loops, block=False)
        self._loops = []

    @staticmethod
    def _every(period: float, work, *, jitter: bool = False) -> None:
        """``work()`` once a period (a slow one stretches its period); an error is logged and
        the loop goes on, so a detector never dies silently and leaves members 'alive'."""
        gevent.sleep(random.uniform(0, period) if jitter else random.uniform(0, period / 4))
        while True:
            started = time.monotonic()
            try:
                work()
            except Exception:
                log.exception("membership loop %s failed once", getattr(work, "__name__", work))
            gevent.sleep(max(0.0, period - (time.monotonic() - started)))

    # -- probes --------------------------------------------------------------------------
    def ping(self, member: Member, timeout: float = PROBE_TIMEOUT_S) -> bool:
        """One direct probe: True if ``member`` answered (its answer taken in), else False;
        a refused connection counts towards proof that it is dead."""
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
            [(h.http, h.name) for h in helpers], "ping_req", body, timeout=INDIRECT_TIMEOUT_S
        )
        if not any(isinstance(a, dict) and a.get("ok") is True for a in answers):
            self.membership.suspect(member)

    def on_ping_req(self, body: dict) -> dict:
        """Probe a member for another node that could not reach it."""
        target = self.membership.members.get(body.get("target"))
        return {"ok": target is not None and self.ping(target)}

    def _probe_next(self) -> None:
        member = self._next(self._order, lambda m: m.state != DEAD)
        if member is not None:
            self.probe(member)

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
            random.shuffle(order)
        return None

    # -- dissemination -------------------------------------------------------------------
    def _gossip(self) -> None:
        """While there is news: to a few random members, and to the suspects it is about."""
        news = self.membership.news
        if not news:
            return
        alive = self.membership.alive()
        targets = random.sample(alive, min(GOSSIP_FANOUT, len(alive)))
        members = self.membership.members
        accused = [members.get(node_id) for node_id in news.about()]
        targets += [m for m in accused if m is not None and m.state == SUSPECT and m not in targets]
        if not targets:
            return
        message = self.membership.message_for(None, copies=len(targets))
        answers = self.client.call_many(
            [(m.http, m.name) for m in targets], "ping", message, timeout=PROBE_TIMEOUT_S
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
        members it holds dead (they may be alive; its verdicts were reached alone)."""
        self.sync_with(teller, adopt=True)
