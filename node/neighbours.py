"""Neighbours: the links a node floods searches over, a bounded few of its members.

A node's neighbours are its ``--bootstrap`` peers and the nodes that join through it; a join
links both ends (symmetric), up to ``--max-degree`` each: a node that already has that many
refuses politely, and the joiner links to another member instead. Members (everyone a node has
heard of) are for failure detection and for replacing a neighbour: when one has been dead for
``REPLACE_AFTER_S`` and fewer neighbours are alive than the node started with (or than
``--min-degree``, where the network has that many members), it links to a random alive member,
one per check, so the graph stays connected. Dead neighbours stay neighbours (longest dead first
out when the set is full): when one returns, the link is there again on both ends.

The set is kept in ``node.json`` (through ``save``), so a restarted node links to the same
neighbours again, and they to it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import gevent

from .config import (
    JOIN_GIVE_UP_S,
    JOIN_RETRY_S,
    LINK_TRIES,
    REPLACE_AFTER_S,
)
from .membership import ALIVE, DEAD, INFO_FIELDS, Member, Membership, valid_info
from .peerclient import PeerError

log = logging.getLogger("node.neighbours")


class Neighbours:
    """One node's neighbour set: joins, links, replacement and what ``node.json`` keeps."""

    def __init__(
        self,
        membership: Membership,
        *,
        max_degree: int,
        min_degree: int,
        save: Callable[[], None] = lambda: None,
    ) -> None:
        self.membership = membership
        self.max_degree = max_degree
        self.min_degree = min_degree
        self.save = save
        self.links: dict[str, dict] = {}  # node_id -> info, in the order they were linked
        self.target = 1  # neighbours the node wants alive: as many as it had after joining
        self.owed = 0  # links refused at the join, still to be made with other members
        self._owed_until = 0.0  # ... for this long (a full network has no room anywhere)
        membership.neighbours = self.links
        self._loops: list[gevent.Greenlet] = []

    # -- queries -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.links)

    def alive(self) -> list[Member]:
        """Neighbours to flood to: those not dead."""
        members = self.membership.members
        found = (members.get(node_id) for node_id in self.links)
        return [m for m in found if m is not None and m.state != DEAD]

    def short(self, sender: str | None = None) -> bool:
        """A neighbour (other than ``sender``) is dead, so a flood cannot ask it: what lies
        behind it, and its own files, may be missing from the answer. While its death is news
        (younger than ``REPLACE_AFTER_S``, stretched as a starved node's timeouts are) whatever
        other links the node has: a live node declared dead by mistake (the verdicts a node cut
        off by a partition spreads when it comes back, a starved prober's) refutes within that
        time, and until then it looks like a real death. After, until a new link makes up for
        it (``replace_dead``)."""
        members = self.membership.members
        found = (members.get(node_id) for node_id in self.links)
        dead = [m for m in found if m is not None and m.state == DEAD and m.name != sender]
        if not dead:
            return False
        settled = time.monotonic() - REPLACE_AFTER_S * self.membership.slowdown
        return any(m.changed > settled for m in dead) or len(self.alive()) < self.wanted()

    def state(self) -> dict:
        """What ``node.json`` keeps."""
        return {"neighbours": list(self.links.values()), "target_degree": self.target}

    def restore(self, saved: dict) -> None:
        """The neighbours of a previous life (``state()`` as read back from ``node.json``)."""
        infos = saved.get("neighbours") if isinstance(saved, dict) else None
        for info in infos if isinstance(infos, list) else []:
            if valid_info(info) and len(self.links) < self.max_degree:
                self.links[info["node_id"]] = {k: info[k] for k in INFO_FIELDS}
        target = saved.get("target_degree") if isinstance(saved, dict) else None
        if type(target) is int and target > 0:
            self.target = min(target, self.max_degree)

    # -- links ---------------------------------------------------------------------------
    def accept(self, member: Member) -> bool:
        """A node asks to be a neighbour: yes while there is room (always, if it already is)."""
        if member.node_id in self.links:
            return True
        if len(self.links) >= self.max_degree:
            return False
        self._add(member)
        return True

    def _add(self, member: Member) -> None:
        self.links[member.node_id] = member.info()
        log.info("neighbour %s linked (%d)", member.name, len(self.links))
        self.save()

    def _link(self, url: str, *, sync: bool, name: str | None = None) -> bool | None:
        """Ask the node at ``url`` to link; whether it did; None if it did not answer."""
        want = len(self.links) < self.max_degree
        try:
            member, linked = self.membership.join_through(url, link=want, sync=sync, name=name)
        except PeerError:
            return None
        if linked and member is not None and member.node_id not in self.links:
            self._add(member)
        return linked

    # -- joining -------------------------------------------------------------------------
    def start(self, bootstrap: list[str]) -> None:
        remembered = [i["http"] for i in self.links.values()]
        urls = list(dict.fromkeys([*bootstrap, *remembered]))
        if urls:
            self._loops.append(gevent.spawn(self._join, urls, fresh=not self.links))

    def stop(self) -> None:
        gevent.killall(self._loops, block=False)
        self._loops = []

    def _join(self, urls: list[str], fresh: bool) -> None:
        """Join through each of ``urls`` (the bootstrap peers, then remembered neighbours),
        retrying those that do not answer yet (they may start after us) for a while; the first
        answer brings the whole member list. A refusal sends the joiner elsewhere."""
        give_up = time.monotonic() + JOIN_GIVE_UP_S
        pending, refused, synced = list(urls), 0, False
        while pending and time.monotonic() < give_up:
            for url in list(pending):
                linked = self._link(url, sync=not synced)
                if linked is None:
                    continue
                pending.remove(url)
                synced = True
                refused += not linked
            if pending:
                gevent.sleep(JOIN_RETRY_S)
        self.owed, self._owed_until = refused, time.monotonic() + JOIN_GIVE_UP_S
        while self.owed and self._link_elsewhere():
            self.owed -= 1
        if fresh:
            self.target = max(1, len(self.links))
            self.save()

    def _link_elsewhere(self) -> bool:
        """Link to a random alive member that is not a neighbour yet (a few tries)."""
        candidates = [m for m in self.membership.in_state(ALIVE) if m.node_id not in self.links]
        random.shuffle(candidates)
        for member in candidates[:LINK_TRIES]:
            if len(self.links) >= self.max_degree:
                return False
            if self._link(member.http, sync=False, name=member.name):
                return True
        return False

    # -- replacement (every NEIGHBOUR_CHECK_S, from the detector's loop) --------------------
    def wanted(self) -> int:
        """Alive neighbours this node wants: as many as it started with, and ``min_degree``
        where the network has that many other members alive."""
        others = len(self.membership.alive())
        return min(self.max_degree, max(self.target, min(self.min_degree, others)))

    def replace_dead(self) -> None:
        """One new link when a neighbour has been dead a while and too few are left, or one
        a join still owes (it knew no other member to go to yet)."""
        if self.owed and time.monotonic() > self._owed_until:
            self.owed = 0
        if self.owed and self._link_elsewhere():
            self.owed -= 1
        settled = time.monotonic() - REPLACE_AFTER_S
        found = (self.membership.members.get(node_id) for node_id in self.links)
        dead = [m for m in found if m is not None and m.state == DEAD and m.changed <= settled]
        if not dead or len(self.alive()) >= self.wanted():
            return
        if len(self.links) >= self.max_degree:
            longest = min(dead, key=lambda m: m.changed)
            del self.links[longest.node_id]
            log.info("neighbour %s dropped to make room", longest.name)
        self._link_elsewhere()
