"""The FileTransfer and health services of a real node, called over real gRPC."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time

import grpc
import pytest
from grpc._cython import cygrpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from node.grpcserver import CLIENT_LEFT, GRPC_AIO_LOGGER
from node.transfer import CLIENT_OPTIONS, PEER_METADATA, SERVICE_NAME
from proto import p2p_pb2, p2p_pb2_grpc
from proto.chunks import download_call
from tests.http import call

pytestmark = pytest.mark.integration

BIG = 24 * 1024 * 1024  # 24 chunks: long enough to be in flight while the test acts


@pytest.fixture(scope="module")
def big_file(cluster):
    """A file on n1 large enough to stream for a while, uploaded over REST."""
    data = os.urandom(BIG)
    status, ack = call("PUT", f"{cluster.nodes['n1'].http}/files/big.bin", data, timeout=60)
    assert status == 201, ack
    return {"name": "big.bin", "sha256": hashlib.sha256(data).hexdigest(), "size": BIG}


def channel(cluster, name="n1"):
    return grpc.insecure_channel(cluster.nodes[name].grpc, options=CLIENT_OPTIONS)


def test_download_streams_offsets_then_total_and_sha(cluster, big_file):
    with channel(cluster) as ch:
        chunks = list(download_call(ch)(p2p_pb2.DownloadRequest(name="big.bin"), timeout=30))
    data, done = chunks[:-1], chunks[-1]
    assert [c.offset for c in data] == [i * 1024 * 1024 for i in range(24)]
    assert data[0].info.name == "big.bin" and data[0].info.size == BIG
    assert all(c.info is None for c in data[1:])
    digest = hashlib.sha256()
    for c in data:
        digest.update(c.data)
    assert done.done and done.total == BIG and done.sha256 == big_file["sha256"]
    assert digest.hexdigest() == big_file["sha256"]


def test_empty_file_streams_its_info_then_done(cluster):
    assert call("PUT", f"{cluster.nodes['n1'].http}/files/empty.bin", b"")[0] == 201
    with channel(cluster) as ch:
        chunks = list(download_call(ch)(p2p_pb2.DownloadRequest(name="empty.bin"), timeout=10))
    assert len(chunks) == 2 and chunks[0].info.size == 0 and not chunks[0].data
    assert chunks[1].done and chunks[1].total == 0


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (p2p_pb2.DownloadRequest(name="no-such-file"), grpc.StatusCode.NOT_FOUND),
        (p2p_pb2.DownloadRequest(name="../etc/passwd"), grpc.StatusCode.INVALID_ARGUMENT),
        (
            p2p_pb2.DownloadRequest(name="big.bin", sha256="0" * 64),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ],
)
def test_bad_download_requests_get_their_status_code(cluster, big_file, request_, code):
    with channel(cluster) as ch, pytest.raises(grpc.RpcError) as err:
        list(download_call(ch)(request_, timeout=10))
    assert err.value.code() == code


def test_stat_answers_metadata_and_not_found(cluster, big_file):
    with channel(cluster) as ch:
        stub = p2p_pb2_grpc.FileTransferStub(ch)
        info = stub.Stat(p2p_pb2.StatRequest(name="big.bin"), timeout=10)
        assert (info.name, info.size, info.sha256, info.node) == (
            "big.bin",
            BIG,
            big_file["sha256"],
            "n1",
        )
        with pytest.raises(grpc.RpcError) as err:
            stub.Stat(p2p_pb2.StatRequest(name="nope"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_service_reports_serving(cluster):
    with channel(cluster) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for service in ("", SERVICE_NAME):
            answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_cancelled_stream_leaves_the_server_serving(cluster, big_file):
    with channel(cluster) as ch:
        stream = download_call(ch)(p2p_pb2.DownloadRequest(name="big.bin"), timeout=30)
        next(stream)
        stream.cancel()
        again = list(download_call(ch)(p2p_pb2.DownloadRequest(name="big.bin"), timeout=30))
    assert again[-1].total == BIG


def test_partitioned_peer_is_black_holed_until_its_deadline(cluster, big_file):
    c, n1 = cluster, cluster.nodes["n1"]
    assert call("POST", f"{n1.http}/admin/partition", {"drop": ["n2"]}, token=c.token)[0] == 200
    try:
        with channel(c) as ch:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as err:
                list(
                    download_call(ch)(
                        p2p_pb2.DownloadRequest(name="big.bin"),
                        timeout=1.0,
                        metadata=((PEER_METADATA, "n2"),),
                    )
                )
            waited = time.monotonic() - started
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert 0.9 <= waited < 3.0
            # others are still served meanwhile
            ok = list(download_call(ch)(p2p_pb2.DownloadRequest(name="big.bin"), timeout=30))
            assert ok[-1].total == BIG
    finally:
        assert call("POST", f"{n1.http}/admin/heal", {}, token=c.token)[0] == 200


def test_sigterm_lets_a_download_in_flight_finish(fresh_cluster):
    c, n1 = fresh_cluster, fresh_cluster.nodes["n1"]
    data = os.urandom(BIG)
    assert call("PUT", f"{n1.http}/files/big.bin", data, timeout=60)[0] == 201
    with grpc.insecure_channel(n1.grpc, options=CLIENT_OPTIONS) as ch:
        stream = download_call(ch)(p2p_pb2.DownloadRequest(name="big.bin"), timeout=30)
        received = bytearray(next(stream).data)
        stopper = threading.Thread(target=c.stop, args=("n1",))
        stopper.start()
        time.sleep(0.3)  # SIGTERM is being handled while the stream is open
        for chunk in stream:
            received += chunk.data
        stopper.join(30)
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(data).hexdigest()
    assert n1.proc.returncode == 0


def _logged(exc: BaseException) -> logging.LogRecord:
    """gRPC's asyncio server's record of ``exc``, with its traceback."""
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord(GRPC_AIO_LOGGER, logging.ERROR, "", 0, "raised", (), info)


def test_a_status_the_client_hung_up_before_is_not_logged_as_a_crash_and_the_rest_is():
    """gRPC logs, with a traceback, a status it could not send to a client that had cancelled
    after the last message (seen once in ten quick runs, as a stopped user hangs up); a
    traceback in a node log reads as a crash (``node_crashes``), so the node drops that one."""
    op = "<grpc._cython.cygrpc.{} object at 0x7f>"
    status_only = f'Failed "execute_batch": ({op.format("SendStatusFromServerOperation")},)'
    with_message = status_only.replace(",)", f", {op.format('SendMessageOperation')})")
    assert not CLIENT_LEFT.filter(_logged(cygrpc.ExecuteBatchError(status_only)))
    assert CLIENT_LEFT.filter(_logged(cygrpc.ExecuteBatchError(with_message)))
    assert CLIENT_LEFT.filter(_logged(ZeroDivisionError("a handler's own error")))
