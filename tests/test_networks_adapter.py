"""The adapter interface's own helpers (networks/adapter.py): mapping a network's node addresses
to peerload node names, so ``Hit.node`` is always one of them."""

from __future__ import annotations

import pytest

from networks.adapter import Adapter, NodeInfo

NODES = [
    NodeInfo("n1", "http://127.0.0.1:8001", "127.0.0.1:50051", extra={"ports": {"http": 8001}}),
    NodeInfo("n2", "http://127.0.0.1:8002/api", "127.0.0.1:50052", extra={"ports": {"p2p": 9002}}),
    NodeInfo("n3", "http://127.0.0.13:8001", "127.0.0.13:50051", host="127.0.0.13"),
]


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("n2", "n2"),  # already a node name
        ("127.0.0.1:8001", "n1"),  # ip:port, the way a network names its nodes
        ("http://127.0.0.1:8002", "n2"),  # the http address without its path
        ("HTTP://127.0.0.1:8002/api/v1/status", "n2"),
        ("127.0.0.1:50052", "n2"),  # the grpc address
        ("127.0.0.1:9002", "n2"),  # a port the definition declares (extra["ports"])
        ("127.0.0.13:8001", "n3"),  # same port, another host: another node
        ("127.0.0.1:7999", None),  # nobody there
        ("not an address", None),
        ("127.0.0.1:99999", None),  # not a port at all
    ],
)
def test_node_for_maps_an_address_to_the_node_there(address, name):
    assert Adapter(NODES).node_for(address) == name
