"""How peerload talks to a network under test: one small class per network.

The Locust users, the verification probes, the monitor and the fault controller never speak a
network's protocol themselves: they call an ``Adapter``. peerload's own node is one network
among others (``networks.builtin``); any team's implementation plugs in with an adapter of its
own (docs/networks.md has a worked example).

An adapter is made per caller (a Locust user, a probe) for the nodes of one network, so it may
keep connections open. Every call names the node it goes to. Errors are two kinds:

- ``Unavailable``: the node did not answer (refused, reset, timed out) — the caller may fail
  over to another node;
- ``Refused``: the node answered, but not with what the operation needs (an HTTP error, a
  malformed answer) — the operation failed on that node.

Operations or views a network does not have are simply absent from ``capabilities``; the
criteria that need them then report "not measurable on this network", never a silent pass.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any

#: Capabilities a network may declare.
SEARCH = "search"  # flooded search by a term, with a TTL
INDEX = "index"  # make a new file available on a node (upload, or drop + re-index)
DOWNLOAD = "download"  # stream a file's bytes from the node holding it
NODE_DOWNLOAD = "node_download"  # ask a node to fetch a file from another node
PEERS = "peers"  # a node's view of its peers (alive / suspect / dead): failure detection
#: A node lists its peers without saying whether they are alive (each ``listed``): membership
#: is judged, failure detection is not measurable. A network declares this or ``peers``.
MEMBERS = "members"
PARTIAL = "partial"  # search answers say when some peers did not answer
MESSAGES = "messages"  # search answers say how many peer messages the query cost
CHECKSUM = "checksum"  # hits (or the stream) carry the file's sha256
FILES = "files"  # a node lists the files it holds (name -> sha256)
REMOVE = "remove"  # take a file away from a node (delete it from its folder, re-index)
#: The adapter can send what no well-behaved client or peer sends (``Adapter.probes``).
MALFORMED = "malformed"
#: The adapter can join a member that serves wrong files and ask a node to fetch from it
#: (``Adapter.rogue_pulls``); needs ``node_download``.
ROGUE = "rogue"
#: The adapter can join to a node, as its neighbour, a member that says only what the
#: protocol requires (``Adapter.minimal_peer``).
MINIMAL = "minimal"
#: A node reports its own running totals of the work it did (``Adapter.counts``: its metrics).
COUNTS = "counts"
ALL = frozenset(
    {SEARCH, INDEX, DOWNLOAD, NODE_DOWNLOAD, PEERS, MEMBERS, PARTIAL, MESSAGES, CHECKSUM, FILES}
    | {REMOVE, MALFORMED, ROGUE, MINIMAL, COUNTS}
)
#: The totals ``Adapter.counts`` may give, each since the node started: searches it originated,
#: downloads it served to the end, downloads it began serving and did not finish, file bytes it
#: served.
SEARCHES, SERVED, SERVED_FAILED, SERVED_BYTES = (
    "searches",
    "served",
    "served_failed",
    "served_bytes",
)
COUNT_KEYS = (SEARCHES, SERVED, SERVED_FAILED, SERVED_BYTES)

#: Peer states a ``peers`` view uses; ``listed``: "listed, liveness unknown" (a ``members`` view).
ALIVE, SUSPECT, DEAD, LISTED = "alive", "suspect", "dead", "listed"
#: A key a ``health`` answer may carry: the node's own count of the peers it holds alive, which
#: must agree with its ``peers`` view (the ``account`` check).
PEERS_ALIVE = "peers_alive"
#: States in which a node counts as seeing a peer (membership, the ``joined`` check).
SEES = frozenset({ALIVE, LISTED})
#: gRPC channel options that keep a stream's receive window at its first size (``steady_windows``).
STEADY_WINDOW_OPTIONS = (("grpc.http2.bdp_probe", 0),)


class Unavailable(Exception):
    """The node did not answer at all: down, frozen or cut off."""


class Refused(Exception):
    """The node answered, but not with what the operation needs."""

    def __init__(self, message: str = "", status: int | str | None = None) -> None:
        super().__init__(message)
        #: What the node answered, where it said: an HTTP status, or a gRPC status's name
        #: (``error_statuses`` judges it against ``Adapter.statuses``).
        self.status = status


class Full(Refused):
    """The node refused a write because its disk has no room (HTTP's 507): raised by an
    adapter whose network says so (``Adapter.tells_full``)."""


@dataclass(frozen=True)
class NodeInfo:
    """One node of the network under test, as the launcher started it (or a descriptor says).

    ``http`` and ``grpc`` are the addresses the adapter talks to (either may be empty when the
    network has no such endpoint); ``extra`` holds whatever else the network definition
    declares per node (its own ports, paths)."""

    name: str
    http: str = ""
    grpc: str = ""
    host: str = "127.0.0.1"
    data_dir: str | None = None
    shared_dir: str | None = None
    pid: int | None = None
    files: tuple[dict, ...] = ()  # the seeded corpus: {"name", "sha256", "size"}
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeInfo:
        """From a descriptor's node entry (unknown keys land in ``extra``)."""
        known = {"name", "http", "grpc", "host", "data_dir", "shared_dir", "pid", "files"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(
            name=str(data["name"]),
            http=str(data.get("http") or ""),
            grpc=str(data.get("grpc") or ""),
            host=str(data.get("host") or "127.0.0.1"),
            data_dir=data.get("data_dir"),
            shared_dir=data.get("shared_dir"),
            pid=data.get("pid"),
            files=tuple(data.get("files") or ()),
            extra={**extra, **(data.get("extra") or {})},
        )


@dataclass(frozen=True)
class Hit:
    """One search result: which node holds which file, and how to fetch it."""

    #: The holder's peerload node name (``n1``...), never the network's own id for it: an
    #: adapter whose network names nodes by address maps it with ``Adapter.node_for``.
    node: str
    name: str
    sha256: str | None = None  # None when the network's answers carry no checksum
    size: int | None = None
    #: Links the query crossed to reach the holder (0: the origin's own file), as ``Adapter.hops``
    #: says; None when the network does not say.
    hops: int | None = None
    source: str = ""  # what ``download`` needs to reach the holder (e.g. its gRPC address)


#: What a probe's request must get (``Probe.expect``): a client error; a success (the edge of
#: a limit, still valid); or anything but a server error, leaving no trace of an impostor.
REFUSE, ACCEPT, IGNORE = "refused", "accepted", "ignored"


@dataclass(frozen=True)
class Probe:
    """One request a well-behaved client or peer never sends, or one at the edge of a limit.

    ``send`` makes it and returns the HTTP-like status the node answered (``Unavailable`` when
    it did not answer); ``impostor``: the peer name it claims, which the node must never list
    (a message it took in although no node of the network could have sent it); ``victim``: a
    member of the network it speaks against, whom the node must still call alive after it."""

    name: str
    send: Callable[[], int]
    expect: str = REFUSE
    impostor: str | None = None
    victim: str | None = None
    #: Read once every probe was sent: what this one did that it must not have (None: nothing;
    #: ``Unavailable`` when it cannot tell), for harm no status or peers view shows.
    harm: Callable[[], str | None] | None = None


@dataclass(frozen=True)
class RoguePull:
    """A fetch a node was asked to make from a member that served a wrong file (``rogue``)."""

    what: str  # what the member got wrong ("sends half the file and says it sent all of it")
    file: str  # the file's name: the node must not hold it afterwards
    status: int  # what the node answered (HTTP-like)
    expect: int  # what the network's protocol prescribes for a peer that failed the fetch
    #: Whether the member was asked for the file (False: the node never reached it, so the
    #: answer says nothing of how it checks a file; None: the adapter cannot tell).
    reached: bool | None = None


@dataclass(frozen=True)
class MinimalPeer:
    """A member joined to a node that says only what the protocol requires (``minimal``)."""

    name: str  # the peerload name its hits and answers carry
    file: dict  # its one file: name, size, sha256 (a hit for it is what a search must find)
    linked: bool  # whether the node took it as a neighbour (its floods reach it)
    #: What the member printed (``FLOOD q`` for each query it answered), once it has stopped.
    said: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SearchAnswer:
    """A search's answer, in peerload's terms."""

    hits: tuple[Hit, ...]
    #: Nodes that answered the query (None: the network does not say).
    reached: tuple[str, ...] | None = None
    #: True when the node says some peers did not answer (None: the network cannot say).
    partial: bool | None = None
    #: Peer messages the flooded query cost (None: the network does not say).
    messages: int | None = None
    #: How long the node says the search took, ms (None: the network does not say).
    elapsed_ms: float | None = None


#: Parts of a download's stream a network's protocol may promise (``Stated.missing``): a first
#: message that says what file follows, a last one that says what was sent.
HEADER, TRAILER = "header", "trailer"


@dataclass(frozen=True)
class Stated:
    """What a download's stream said of its file, returned by ``Adapter.download`` when it
    ends (the generator's return value), for ``reports.stated`` to judge against the model:
    every field the protocol carries is a claim, as a hit's size is. None: not said."""

    name: str | None = None  # the header's file name, size, digest and owner
    size: int | None = None
    sha256: str | None = None
    node: str | None = None  # a peerload node name (``Adapter.node_for``), as ``Hit.node``
    total: int | None = None  # the trailer's count of the bytes it sent, and their digest
    digest: str | None = None
    #: Parts the protocol promises that the stream lacked (``HEADER``, ``TRAILER``).
    missing: tuple[str, ...] = ()

    def facts(self) -> dict[str, Any]:
        """Compact, for a sample (``reports.stated`` judges it): what was said, and the parts
        missing if any."""
        said = {k: v for k, v in asdict(self).items() if v is not None and k != "missing"}
        return {**said, "missing": list(self.missing)} if self.missing else said


#: What ``Adapter.download`` returns: the file's bytes, chunk by chunk, then (optionally) what
#: the stream said of them.
Download = Generator[bytes, None, Stated | None]


def read_download(chunks: Iterable[bytes], take: Callable[[bytes], None]) -> Stated | None:
    """Give each chunk of a download to ``take``; what its stream stated (None: nothing)."""
    stream = iter(chunks)
    while True:
        try:
            data = next(stream)
        except StopIteration as end:
            return end.value if isinstance(end.value, Stated) else None
        take(data)


class Adapter:
    """Base class: subclass it for a network and implement the operations it has.

    Class attributes to set: ``name``, ``capabilities``. Methods of a missing capability keep
    raising ``NotImplementedError``; nothing calls them."""

    name = "abstract"
    capabilities: frozenset[str] = frozenset()
    #: The protocol each operation uses, as the report groups them ("REST and gRPC both make
    #: progress"); operations not listed use ``default_protocol``.
    protocols: dict[str, str] = {"download": "grpc", "download_ttfb": "grpc"}
    default_protocol = "rest"
    #: How the network matches a search term to a file name, as the checker's model must
    #: (``reports.model.MATCH_RULES``): "substring" (case-insensitive, as our node), "prefix"
    #: (case-insensitive) or "exact".
    match = "substring"
    #: What a hit's ``hops`` counts, as the checker judges it (``reports.model.HOPS_RULES``):
    #: "path" (the links the copy of the query that reached the holder crossed: never fewer
    #: than the shortest way) or "fewest" (the fewest hops at which the query reached it: the
    #: shortest way over the links up, in an answer not partial).
    hops = "path"
    #: Set on an adapter of its own by a check that holds a download open unread (``parallel``):
    #: a transport that grows its receive window with throughput must keep it at its first
    #: size then, or a server that streams one file at a time pushes a whole file into it and
    #: looks parallel (gRPC's BDP probe grew our node's to 5-20 MiB: ``grpc_options`` turns it
    #: off). Left unset, downloads keep the window growth their throughput needs.
    steady_windows = False
    #: Whether the adapter raises ``Full`` when a node refuses a write for want of disk space,
    #: so the ``full_disk`` check can tell a clean refusal from a node that broke on it.
    tells_full = False
    #: The statuses the network's API documents for each operation's failures (an HTTP
    #: status, or a gRPC status's name), that ``error_statuses`` judges every answer against:
    #: a node that answers another (a 500 from a handler that raised, a 505 for a partitioned
    #: peer) fails, though a success rate would average it away. Raise ``Refused`` with the
    #: ``status`` the node answered; an operation not listed here is not judged.
    statuses: dict[str, frozenset[int | str]] = {}

    def __init__(self, nodes: list[NodeInfo]) -> None:
        self.nodes = {n.name: n for n in nodes}
        #: node -> {peer: round-trip ms}, filled by ``peers`` where the network reports RTT.
        self.rtt_ms: dict[str, dict[str, float]] = {}
        #: node -> {peer: seconds since it last heard from that peer}, filled by ``peers``
        #: where the network says (the ``joined`` check: a peer called alive but unheard of for
        #: longer than any failure detector waits is a stale view).
        self.last_seen_s: dict[str, dict[str, float]] = {}
        #: node -> the peers it floods to (its neighbours), filled by ``peers`` where the
        #: network says which they are: the links the checker's model follows when nodes
        #: re-link around a dead one.
        self.links: dict[str, set[str]] = {}

    # -- every network ------------------------------------------------------------------
    def health(self, node: NodeInfo) -> dict[str, Any]:
        """The node is up and serving: a dict (at least ``{"name"}``, and ``PEERS_ALIVE`` where
        the node counts its live peers); ``Unavailable`` if not."""
        raise NotImplementedError

    def search(self, node: NodeInfo, term: str, ttl: int) -> SearchAnswer:
        """Flooded search from ``node``."""
        raise NotImplementedError

    def download(self, node: NodeInfo, hit: Hit, timeout: float) -> Download | Iterator[bytes]:
        """Stream the file of ``hit`` from ``node`` (the holder): its bytes, chunk by chunk;
        a generator that returns a ``Stated`` has what its stream said judged too."""
        raise NotImplementedError

    def grpc_options(self, options: Sequence[tuple[str, Any]] = ()) -> list[tuple[str, Any]]:
        """Channel options for a gRPC download: ``options``, and the BDP probe off while
        ``steady_windows`` is set (its receive windows then stay at HTTP/2's 64 KiB)."""
        return [*options, *(STEADY_WINDOW_OPTIONS if self.steady_windows else ())]

    # -- optional -------------------------------------------------------------------------
    def index(self, node: NodeInfo, name: str, data: bytes) -> str | None:
        """Make a new file available on ``node``; the sha256 the node acknowledged, or None
        when the network acknowledges without one (peerload then trusts its own)."""
        raise NotImplementedError

    def node_download(self, node: NodeInfo, name: str, sha256: str, source: NodeInfo) -> str:
        """Ask ``node`` to fetch ``name`` from ``source``; the sha256 it acknowledged."""
        raise NotImplementedError

    def peers(self, node: NodeInfo) -> dict[str, str]:
        """``node``'s view of its peers: peer name -> ``alive`` / ``suspect`` / ``dead`` (the
        ``peers`` capability), or ``listed`` for each peer it lists without knowing whether it
        is alive (``members``); a peer it does not know may be left out."""
        raise NotImplementedError

    def files(self, node: NodeInfo) -> dict[str, str | None]:
        """The files ``node`` holds: name -> sha256 (None when it does not say)."""
        raise NotImplementedError

    def counts(self, node: NodeInfo) -> dict[str, float]:
        """``node``'s own running totals (its metrics), under the ``COUNT_KEYS`` it keeps: any
        of them; one it does not keep is left out, never given as 0."""
        raise NotImplementedError

    def remove(self, node: NodeInfo, name: str) -> None:
        """Take ``name`` away from ``node`` as its user would (delete it from the node's folder,
        then re-index as the network does): the node must stop offering it."""
        raise NotImplementedError

    def removable(self, node: NodeInfo) -> str | None:
        """Why files cannot be taken away from ``node`` from here (None: they can)."""
        return None if self.has(REMOVE) else "the network cannot be rid of files"

    def probes(self, node: NodeInfo) -> list[Probe]:
        """Malformed requests for ``node`` and the edges of its limits, in the network's own
        protocol, client API and peer API alike (``malformed``): each must be answered as its
        ``expect`` says, and the node must go on serving."""
        raise NotImplementedError

    def rogue_pulls(self, node: NodeInfo) -> list[RoguePull]:
        """Join a member to ``node`` that serves files wrong (altered bytes, a stream cut
        short or never ended), ask ``node`` to fetch each from it, and say what it answered
        (``rogue``). Run last: the member stays in the node's membership, unreachable."""
        raise NotImplementedError

    def minimal_peer(self, node: NodeInfo) -> AbstractContextManager[MinimalPeer]:
        """While the block runs, a member that no node of the network is, joined to ``node``
        as its neighbour, that answers each message with the fields the network's protocol
        requires and no more (``minimal``): its one file must be found through ``node``. Run
        last: the member stays in the node's membership, gone."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    # -- helpers ---------------------------------------------------------------------------
    def protocol(self, op: str) -> str:
        """The protocol ``op`` travels over on this network."""
        return self.protocols.get(op, self.default_protocol)

    def has(self, capability: str) -> bool:
        """Whether the network offers ``capability``."""
        return capability in self.capabilities

    def node(self, name: str) -> NodeInfo:
        """The node called ``name``; ``KeyError`` if the network has none."""
        return self.nodes[name]

    def node_for(self, address: str) -> str | None:
        """The name of the node at ``address`` (``http://127.0.0.1:8001``, ``127.0.0.1:50051``,
        a node name), for a network whose answers name nodes by address: ``Hit.node`` must be a
        peerload node name. By default matched by host:port against each known node's http and
        grpc addresses and its declared ports; None when no node is there. Override it for a
        network whose nodes answer with ids of their own."""
        if address in self.nodes:
            return address
        wanted = _endpoint(address)
        for node in self.nodes.values():
            if wanted in node_endpoints(node):
                return node.name
        return None


def _endpoint(address: str) -> str:
    """``host:port`` of an address with or without a scheme and path; lower case."""
    text = address.strip()
    if "://" not in text:
        text = "//" + text
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        return text.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def node_endpoints(node: NodeInfo) -> set[str]:
    """Every ``host:port`` at which ``node`` is reached: its http and grpc addresses and each
    port the launcher gave it (``extra["ports"]``) on its host."""
    found = {_endpoint(a) for a in (node.http, node.grpc) if a}
    ports = node.extra.get("ports")
    if isinstance(ports, dict):
        found |= {_endpoint(f"{node.host}:{p}") for p in ports.values()}
    return found
