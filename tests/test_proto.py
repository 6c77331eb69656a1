"""The committed gRPC stubs are exactly what proto/p2p.proto generates."""

from __future__ import annotations

import importlib.util

import pytest

from proto.generate import ROOT, generate


@pytest.mark.skipif(importlib.util.find_spec("grpc_tools") is None, reason="needs grpcio-tools")
def test_regenerating_the_stubs_changes_nothing(tmp_path):
    assert generate(tmp_path) == 0
    for stub in ("p2p_pb2.py", "p2p_pb2_grpc.py"):
        fresh = (tmp_path / "proto" / stub).read_text()
        assert fresh == (ROOT / "proto" / stub).read_text(), (
            f"{stub} is stale: run proto/generate.py"
        )
