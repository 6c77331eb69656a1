"""``python -m node``: run one peer.

Monkey-patching happens first and leaves threads, queues and ``select`` alone: the gRPC server
runs an asyncio loop on a real epoll in an OS thread of its own (node/grpcserver.py, FIELD-NOTES),
while sockets, DNS and sleeps become cooperative.
"""

from gevent import monkey

monkey.patch_all(thread=False, queue=False, select=False)

import argparse
import logging
import sys
from pathlib import Path

from .config import (
    ADMIN_TOKEN_ENV,
    DEFAULT_MAX_DEGREE,
    DEFAULT_MAX_UPLOAD,
    DEFAULT_MIN_DEGREE,
    DEFAULT_SEARCH_DEADLINE_S,
    DEFAULT_TTL_CAP,
    MAX_DEGREE_LIMIT,
    NodeConfig,
)


def parse_args(argv: list[str] | None = None) -> NodeConfig:
    p = argparse.ArgumentParser(prog="python -m node", description="Run one peerload peer.")
    p.add_argument("--name", required=True, help="node name, unique in the network")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on and connect from")
    p.add_argument("--http-port", type=int, default=0, help="REST port (0: pick a free one)")
    p.add_argument("--grpc-port", type=int, default=0, help="gRPC port (0: pick a free one)")
    p.add_argument("--data-dir", type=Path, required=True, help="catalog and shared files")
    p.add_argument(
        "--bootstrap", action="append", default=[], metavar="URL", help="peer to join (repeat)"
    )
    p.add_argument(
        "--admin-token", default=None, help=f"admin API token (default: ${ADMIN_TOKEN_ENV})"
    )
    p.add_argument("--max-upload", type=int, default=DEFAULT_MAX_UPLOAD, help="bytes per upload")
    p.add_argument("--ttl-cap", type=int, default=DEFAULT_TTL_CAP, help="highest TTL accepted")
    p.add_argument(
        "--search-deadline", type=float, default=DEFAULT_SEARCH_DEADLINE_S, help="seconds"
    )
    p.add_argument(
        "--max-degree",
        type=int,
        default=DEFAULT_MAX_DEGREE,
        help="most neighbours (links searches flood over); joins beyond are refused",
    )
    p.add_argument(
        "--min-degree",
        type=int,
        default=DEFAULT_MIN_DEGREE,
        help="alive neighbours kept when one dies (where the network has that many members)",
    )
    p.add_argument("--parent-pid", type=int, default=None, help="exit when this pid is gone")
    p.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    a = p.parse_args(argv)
    for port in (a.http_port, a.grpc_port):
        if not 0 <= port <= 65535:
            p.error(f"port {port} is out of range")
    if a.max_upload <= 0 or not 0 <= a.ttl_cap <= 16 or not 0 < a.search_deadline <= 10:
        p.error("--max-upload must be > 0, --ttl-cap 0..16, --search-deadline 0..10 s")
    if not 1 <= a.max_degree <= MAX_DEGREE_LIMIT or not 1 <= a.min_degree <= a.max_degree:
        p.error(f"--max-degree must be 1..{MAX_DEGREE_LIMIT}, --min-degree 1..--max-degree")
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    return NodeConfig(
        name=a.name,
        host=a.host,
        http_port=a.http_port,
        grpc_port=a.grpc_port,
        data_dir=a.data_dir,
        bootstrap=a.bootstrap,
        admin_token=a.admin_token,
        max_upload=a.max_upload,
        ttl_cap=a.ttl_cap,
        search_deadline_s=a.search_deadline,
        max_degree=a.max_degree,
        min_degree=a.min_degree,
        parent_pid=a.parent_pid,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    from .server import serve

    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
