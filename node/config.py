"""Node settings and the limits every input is checked against: every limit is defined here,
once, so the REST routes, the peer wire protocol, the gRPC servicer and the fault controller
(``faults/kinds/latency.py`` checks plans against ``MAX_LATENCY_MS``) agree."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ADMIN_TOKEN_ENV = "PEERLOAD_TOKEN"

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
PEER_IDLE_TIMEOUT_S = 120.0  # a peer connection silent this long is closed (heartbeats: 0.2 s)
MAX_QUERY_ID = 64
MAX_HOPS = 64
MAX_BUDGET_MS = int(MAX_SEARCH_DEADLINE_S * 1000)  # a relay's budget never exceeds a search's
SEEN_MAX = 200_000  # query ids remembered for dedupe
MAX_PEERS = 64  # peers one node keeps; gossip beyond is ignored
MAX_PEER_FIELD_CHARS = 200  # each field of a peer's info (name, id, addresses)
MAX_CONNECTIONS = 4096  # connections served at once (HTTP and peer); beyond, new ones wait
MIN_CHUNK = 4 * 1024  # smallest chunk a download may ask for (largest: CHUNK_SIZE)

# Faults set through the admin API (node/netfaults.py).
MAX_LATENCY_MS = 10_000
BLACK_HOLE_S = 5.0
"""How long a partitioned peer's request hangs before it fails, over REST (503), the wire
(connection closed), gRPC (DEADLINE_EXCEEDED) and pulls (504), unless the caller's own
deadline is shorter: long enough to look like a cut link to a caller with a shorter deadline
(heartbeats 0.4 s, searches 1 s), bounded so no connection or thread is held for minutes."""

# Failure detection. A refused connection is proof the process is gone, so two refusals in a
# row are enough; a frozen (SIGSTOPped) peer only shows as silence, judged by DEAD_AFTER_S.
HEARTBEAT_INTERVAL_S = 0.2
HEARTBEAT_TIMEOUT_S = 0.4
SUSPECT_AFTER_S = 0.45
DEAD_AFTER_S = 0.9
DEAD_AFTER_REFUSALS = 2

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
    heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S
    dead_after_s: float = DEAD_AFTER_S
    parent_pid: int | None = None  # exit when this process goes away (no orphans)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.admin_token is None:
            self.admin_token = os.environ.get(ADMIN_TOKEN_ENV) or None

    @property
    def shared_dir(self) -> Path:
        """Where the node's files live; anything dropped here is indexed by a rescan."""
        return self.data_dir / "shared"
