"""tinyp2p: a small asyncio P2P file-sharing network, written the way a small team's first
implementation is, to show peerload judging a network that is not its own.

One process per node: an aiohttp REST API (``/api/v1/...``) and a grpc.aio ``Transfer`` service
in the same event loop. Membership by an explicit login, flooding search with a hop limit,
a heartbeat that drops silent peers, files dropped into ``DATA_DIR/shared`` and indexed by
``POST /api/v1/reindex``. Run a node with ``python -m examples.tinyp2p --help``.
"""
