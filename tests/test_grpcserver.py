"""The node's gRPC server object on its own loop thread, started and stopped in-process."""

from __future__ import annotations

import socket

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from node import grpcserver
from node.catalog import Catalog
from node.grpcserver import GrpcServer
from node.netfaults import NetFaults
from node.transfer import FileTransferServicer


@pytest.fixture
def servicer(tmp_path):
    catalog = Catalog(tmp_path)
    yield FileTransferServicer(catalog, "t1", NetFaults())
    catalog.close()


def health_status(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status


def test_starts_serves_and_stops(servicer):
    server = GrpcServer("127.0.0.1", 0, servicer)
    port = server.start()
    try:
        assert port > 0
        assert health_status(port) == health_pb2.HealthCheckResponse.SERVING
        server.enter_graceful_shutdown()
    finally:
        assert server.stop(grace_s=1.0) is True
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", port))
    assert server.stop(grace_s=1.0) is True  # a second stop is harmless


def test_a_taken_port_is_one_clear_error(servicer):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen for gRPC on 127.0.0.1:{port}"):
            GrpcServer("127.0.0.1", port, servicer).start()


def test_a_failure_inside_the_loop_fails_start(servicer, monkeypatch):
    def broken(**_options):
        raise RuntimeError("no completion queue")  # stands in for any grpc.aio failure

    monkeypatch.setattr(grpcserver.grpc.aio, "server", broken)
    with pytest.raises(OSError, match="no completion queue"):
        GrpcServer("127.0.0.1", 0, servicer).start()
