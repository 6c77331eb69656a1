"""``python -m examples.tinyp2p --name N --port P --grpc-port G --data-dir D [--peer URL ...]``"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from examples.tinyp2p.node import TinyNode

BIND_FAILED = 2


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.tinyp2p", description=__doc__)
    parser.add_argument("--name", required=True, help="this node's name, unique in the network")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="REST port")
    parser.add_argument("--grpc-port", type=int, required=True, help="file transfer port")
    parser.add_argument("--data-dir", required=True, help="shared files go in DATA_DIR/shared")
    parser.add_argument(
        "--peer", action="append", default=[], help="http://host:port of a node to log in to"
    )
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Run a node until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    node = TinyNode(args.name, args.host, args.port, args.grpc_port, args.data_dir, args.peer)
    await node.run(stop)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"%(asctime)s {args.name} %(levelname)s %(message)s",
    )
    try:
        asyncio.run(serve(args))
    except (OSError, RuntimeError) as err:  # a taken port: aiohttp raises OSError, grpc Runtime
        print(f"tinyp2p {args.name}: cannot start: {err}", file=sys.stderr)
        return BIND_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
