"""Node settings and the limits every input is checked against: every limit is defined here,
once, so the REST routes, the peer wire protocol and the gRPC servicer agree (the admin API's,
which the fault controller checks plans against too, are in ``proto/admin.py``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from proto.admin import ADMIN_TOKEN_ENV, MAX_LATENCY_MS, MAX_LOSS_PCT  # noqa: F401 - re-exported

MAX_NAME_BYTES = 255
MAX_QUERY_CHARS = 200
DEFAULT_MAX_UPLOAD = 64 * 1024 * 1024
MAX_JSON_BODY = 64 * 1024
DEFAULT_TTL = 3
DEFAULT_TTL_CAP = 7
DEFAULT_SEARCH_DEADLINE_S = 1.0
MAX_SEARCH_DEADLINE_S = 10.0

# Peer messages (node/wire.py, node/flood.py).
MAX_FRAME = 1024 * 1024
PEER_IDLE_TIMEOUT_S = 120.0  # a peer connection silent this long is closed (probes: 2-4 a second)
MAX_QUERY_ID = 64
MAX_HOPS = 64
MAX_BUDGET_MS = int(MAX_SEARCH_DEADLINE_S * 1000)  # a relay's budget never exceeds a search's
SEEN_MAX = 200_000  # query ids remembered for dedupe
MAX_MEMBERS = 1024  # members one node keeps; news of more is ignored
MAX_PEER_FIELD_CHARS = 200  # each field of a peer's info (name, id, addresses)
MAX_CONNECTIONS = 4096  # connections served at once (HTTP and peer); beyond, new ones wait
MIN_CHUNK = 4 * 1024  # smallest chunk a download may ask for (largest: CHUNK_SIZE)

# Faults set through the admin API (node/netfaults.py).
BLACK_HOLE_S = 5.0
"""How long a partitioned peer's request hangs before it fails, over REST (503), the wire
(connection closed), gRPC (DEADLINE_EXCEEDED) and pulls (504), unless the caller's own
deadline is shorter: long enough to look like a cut link to a caller with a shorter deadline
(probes 0.3 s, searches 1 s), bounded so no connection or thread is held for minutes."""

# Membership and failure detection, SWIM-style (node/membership.py, node/detector.py). Each
# period (PROBE_INTERVAL_S times log10 of the members, at least 1: 0.25 s up to 10 nodes, 0.5 s
# at 100) a node probes one member; a probe unanswered in PROBE_TIMEOUT_S is retried through
# INDIRECT_PROBES other members; still nothing makes it suspect, and a suspect not refuted
# within the suspicion timeout (SUSPICION_S times log10 of the members, at least 1) is dead. A
# refused connection is proof the process is gone: dead at once. Detection at N members takes
# about one period to the first probe, the timeouts, then log(N) gossip rounds to reach everyone.
PROBE_INTERVAL_S = 0.25
PROBE_TIMEOUT_S = 0.3
INDIRECT_PROBES = 3
INDIRECT_TIMEOUT_S = 0.4  # a helper's own probe (PROBE_TIMEOUT_S) plus its way back
# A probe of a silent member takes PROBE_TIMEOUT_S + INDIRECT_TIMEOUT_S, longer than a period:
# probes overlap, but no more than this many at once, so a starved or cut-off node does not pile
# up work (and suspicions) faster than it can finish it.
MAX_PROBES_IN_FLIGHT = 2
SUSPICION_S = 0.4
DEAD_AFTER_REFUSALS = 1
MAX_SLOWDOWN = 8  # a starved node (its own timer late) stretches its timeouts up to this many times
DEAD_PROBE_INTERVAL_S = 0.5  # one dead member re-probed per interval, so a returning one is seen
GOSSIP_INTERVAL_S = 0.1  # while there is news, it goes to GOSSIP_FANOUT random members
GOSSIP_FANOUT = 3
RETRANSMIT_MULT = 3  # each piece of news is sent RETRANSMIT_MULT * ceil(log10(N + 2)) times
MAX_NEWS = 16  # pieces of news piggybacked on one message
SYNC_INTERVAL_S = 10.0  # full member lists exchanged with one random member (anti-entropy)
JOIN_TIMEOUT_S = 1.0
JOIN_RETRY_S = 0.25
JOIN_GIVE_UP_S = 30.0  # a bootstrap or remembered neighbour still silent is left to the detector

# Neighbours: the links searches flood over (node/neighbours.py).
DEFAULT_MAX_DEGREE = 32
DEFAULT_MIN_DEGREE = 2
MAX_DEGREE_LIMIT = 256  # highest --max-degree accepted
REPLACE_AFTER_S = 1.0  # a neighbour dead this long is replaced if too few are left (and its
# death, settled, no longer makes every answer partial: node/neighbours.py)
NEIGHBOUR_CHECK_S = 0.5
LINK_TRIES = 8  # members asked, one at a time, when a bootstrap peer refuses a link

CHUNK_SIZE = 1024 * 1024
GRPC_MAX_MESSAGE = 4 * 1024 * 1024
GRPC_MAX_STREAMS = 64  # downloads served at once; more wait for a turn
DOWNLOAD_DEADLINE_S = 60.0


@dataclass
class NodeConfig:
    """Everything one peer needs to start; built from the command line by ``node.__main__``."""

    name: str
    data_dir: Path
    host: str = "127.0.0.1"
    http_port: int = 0
    grpc_port: int = 0
    bootstrap: list[str] = field(default_factory=list)
    admin_token: str | None = None
    max_upload: int = DEFAULT_MAX_UPLOAD
    ttl_cap: int = DEFAULT_TTL_CAP
    search_deadline_s: float = DEFAULT_SEARCH_DEADLINE_S
    max_degree: int = DEFAULT_MAX_DEGREE
    min_degree: int = DEFAULT_MIN_DEGREE
    parent_pid: int | None = None  # exit when this process goes away (no orphans)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.admin_token is None:
            self.admin_token = os.environ.get(ADMIN_TOKEN_ENV) or None

    @property
    def shared_dir(self) -> Path:
        """Where the node's files live; anything dropped here is indexed by a rescan."""
        return self.data_dir / "shared"
