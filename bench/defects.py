"""The defects ``bench/mutations.py`` seeds into a copy of the node, one at a time.

``OWN``: the bugs this project wrote its criteria against first. ``REPORTED``: one bug of each
class an outside evaluation seeded into the node and saw judged READY (or, the last four, caught)
— a wrong size in hits, answers always ``partial``, memory that grows with every byte served,
heartbeats that burn CPU, relays that do not decrement the TTL, a cap on results, downloads one
at a time, membership that never converges, a dedupe cache too small, a node that gives up
after being frozen, answers emptied under load, uploads never searchable. These were written
from the class alone, after the criteria: a verdict tuned to them would prove nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defect:
    """One realistic bug: replace ``old`` by ``new`` in ``node/<file>``, exactly once. Lines
    after the first, in both, are indented relative to the line ``old`` starts on, so a patch
    survives its code being re-indented (moved into or out of a function)."""

    name: str
    file: str
    old: str
    new: str
    description: str


# fmt: off
OWN: tuple[Defect, ...] = (
    Defect("corrupt-chunk", "transfer.py",
           "await context.write(encode_data_chunk(offset, data, info if offset == 0 else None))",
           "if os.urandom(1)[0] < 13:  # ~5% of chunks\n"
           "    data = bytes([data[0] ^ 0xFF]) + data[1:]\n"
           "await context.write(encode_data_chunk(offset, data, info if offset == 0 else None))",
           "serves ~5% of streamed chunks with a flipped byte (sha256 in the trailer stays right)"),
    Defect("slow-first-chunk", "transfer.py",
           "async with self._streams:",
           "await asyncio.sleep(1.5)\nasync with self._streams:",
           "every download waits 1.5 s before its first chunk"),
    Defect("drop-last-peer", "flood.py",
           "subs = [self._checked(answer) for answer in answers]",
           "subs = [self._checked(answer) for answer in answers[:-1]]",
           "off-by-one: the last neighbour's answer is ignored, hits lost, not flagged partial"),
    Defect("swallow-peer-errors", "flood.py",
           "return None if isinstance(answer, PeerError) or not valid_answer(answer) else answer",
           "return {} if isinstance(answer, PeerError) or not valid_answer(answer) else answer",
           "a peer that failed or timed out counts as 'no hits', so answers are never partial"),
    Defect("phantom-hits", "flood.py",
           'answer["results"].extend(sub.get("results", []))',
           'answer["results"].extend({**h, "node": self.me["name"], "grpc": self.me["grpc"]}'
           ' for h in sub.get("results", []))',
           "relayed hits re-stamped with the relaying node: it claims files it does not hold"),
    Defect("duplicate-hits", "catalog.py",
           "return [r for lowered, r in self._lowered if needle in lowered]",
           "return [r for lowered, r in self._lowered if needle in lowered] + [\n"
           "    r for r in self._files.values() if term in r.name]  # exact case too",
           "search merges case-insensitive and exact-case matches: most hits come twice"),
    Defect("no-dedupe", "flood.py",
           "self._items[query_id] = (now + self.ttl_s, ttl)",
           "self._items[query_id] = (self.ttl_s, ttl)",
           "seen-cache stores the TTL, not the expiry: every id expires at once, no flood dedupe"),
    Defect("detector-off", "membership.py",
           "if member.state != DEAD:\n"
           "    self._set(member, DEAD, member.inc)",
           "if member.state != DEAD:\n"
           "    self._set(member, SUSPECT, member.inc)",
           "failure detection off: a dead peer stays 'suspect' and keeps getting queries"),
    Defect("slow-detection", "config.py",
           "SUSPICION_S = 0.4\nDEAD_AFTER_REFUSALS = 1",
           "SUSPICION_S = 12.0\nDEAD_AFTER_REFUSALS = 60",
           "failure detection tuned for a WAN: dead after 12 s of suspicion or 60 refusals"),
    Defect("blocking-search", "api.py",
           "return node.flood.search(q, ttl, deadline_ms / 1000)",
           'gevent.monkey.get_original("time", "sleep")(0.05)  # sync call on the hub\n'
           "return node.flood.search(q, ttl, deadline_ms / 1000)",
           "each search makes a 50 ms blocking call on the event loop: the whole node stalls"),
    Defect("write-behind-upload", "server.py",
           "stored = gevent.get_hub().threadpool.apply(self._store, (name, data))",
           "import hashlib\n\n"
           "gevent.spawn_later(2.0, self.catalog.put_bytes, name, data)\n"
           "stored = FileRecord(name, len(data), hashlib.sha256(data).hexdigest())",
           "uploads acknowledged (201) before they are written: a crash loses the last 2 s"),
    Defect("crash-wipes-files", "catalog.py",
           "self.shared.mkdir(parents=True, exist_ok=True)",
           "import shutil\n\n"
           'if (self.data_dir / "catalog.sqlite-wal").exists():  # unclean stop: start over\n'
           "    shutil.rmtree(self.shared)\n"
           "self.shared.mkdir(parents=True, exist_ok=True)",
           "a restart after a crash (WAL left behind) wipes the node's shared files"),
)

REPORTED: tuple[Defect, ...] = (
    Defect("wrong-size", "flood.py",
           '"size": record.size,',
           '"size": record.size + 1,',
           "every hit advertises its file one byte larger than it is"),
    Defect("always-partial", "flood.py",
           'answer["partial"] = self.neighbours.short(sender)',
           'answer["partial"] = True',
           "every flooded answer says partial, whether or not anything failed"),
    Defect("leak-per-byte", "transfer.py",
           "offset += len(data)",
           "offset += len(data)\n"
           "self.__dict__.setdefault('_sent', []).append(bytes(data))  # kept for stats",
           "the node keeps a copy of every chunk it serves: memory grows with bytes served"),
    Defect("busy-heartbeat", "detector.py",
           "self._feel(started - due)",
           "self._feel(started - due)\n"
           "sum(i * i for i in range(1_000_000))  # 'checksum' of the member table",
           "every probe period burns ~50 ms of CPU, idle or not"),
    Defect("ttl-kept", "flood.py",
           'message = {"id": query_id, "q": term, "ttl": ttl - 1, "hops": hops + 1}',
           'message = {"id": query_id, "q": term, "ttl": ttl - (sender is None), "hops": hops + 1}',
           "relays forward the TTL they got: only the origin decrements it"),
    Defect("result-cap", "catalog.py",
           "return [r for lowered, r in self._lowered if needle in lowered]",
           "return [r for lowered, r in self._lowered if needle in lowered][:2]",
           "a node returns at most 2 of its matching files"),
    Defect("serial-downloads", "transfer.py",
           "self._streams = asyncio.Semaphore(GRPC_MAX_STREAMS)",
           "self._streams = asyncio.Semaphore(1)",
           "files are streamed one at a time: parallel downloads queue"),
    Defect("no-convergence", "membership.py",
           "if len(self.members) >= MAX_MEMBERS:",
           "if len(self.members) >= MAX_MEMBERS or not first_hand:",
           "members are learnt only from themselves: news and member lists are ignored"),
    Defect("small-dedupe", "config.py",
           "SEEN_MAX = 200_000",
           "SEEN_MAX = 2",
           "the flood's seen-cache remembers 2 query ids: busy nodes forward duplicates"),
    Defect("frozen-gives-up", "detector.py",
           "members.strained()",
           "members.strained()\n"
           "if late > 2.0:\n"
           "    raise gevent.GreenletExit  # stalled too long: stop probing",
           "after a stall of 2 s (a pause) the node's probe loop ends: it detects nothing more"),
    Defect("empty-when-slow", "flood.py",
           'self.metrics.search(answer["partial"])',
           'self.metrics.search(answer["partial"])\n'
           "if time.monotonic() - started > 0.05:\n"
           '    answer["results"] = []  # too slow: answer fast instead',
           "a search that took over 50 ms answers no hits (and does not say partial)"),
    Defect("upload-unsearchable", "catalog.py",
           "self._lowered = (*self._lowered, (added.name.lower(), added))",
           "self._lowered = self._lowered",
           "an uploaded file is stored and listed but never matched by a search"),
)
# fmt: on
DEFECTS = OWN + REPORTED
#: Names ``--set`` accepts.
SETS = {"own": OWN, "reported": REPORTED, "all": DEFECTS}
