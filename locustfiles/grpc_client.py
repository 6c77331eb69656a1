"""gRPC streaming downloads from a Locust user, recorded through Locust's request event.

Locust's documented interceptor calls ``.result()`` and hangs on server-streaming calls, so we
iterate the stream here with a deadline, and report time to first chunk and total time as two
entries, bytes as ``response_length``. Channels are made per user in ``on_start`` (fork-safe
with ``--processes``).
"""

from __future__ import annotations

import hashlib
import time

import grpc

from node import memory
from proto import p2p_pb2
from proto.chunks import download_call

OPTIONS = [
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.http2.ping_timeout_ms", 1_000),
]
DOWNLOAD_DEADLINE_S = 20.0


class IntegrityError(Exception):
    """Downloaded bytes do not match the sha256 that search returned: corrupt data reached a
    user (``reports.correctness``), whatever the success rate."""

    kind = "corrupt"


class GrpcDownloader:
    """One user's gRPC channels (one per node address) and its download call."""

    def __init__(self, environment) -> None:
        self.environment = environment
        self._channels: dict[str, grpc.Channel] = {}
        memory.tune()  # 1 MiB messages: without it, every chunk is page-faulted in again

    def _download(self, address: str) -> grpc.UnaryStreamMultiCallable:
        if address not in self._channels:
            self._channels[address] = grpc.insecure_channel(address, options=OPTIONS)
        return download_call(self._channels[address])

    def download(self, address: str, name: str, sha256: str, context: dict) -> bool:
        """Stream ``name`` from ``address``, verify it; True when it verified."""
        fire = self.environment.events.request.fire
        started_wall, started = time.time(), time.perf_counter()
        first_ms, size, digest, error = None, 0, hashlib.sha256(), None
        try:
            stream = self._download(address)(
                p2p_pb2.DownloadRequest(name=name), timeout=DOWNLOAD_DEADLINE_S
            )
            for chunk in stream:
                if first_ms is None:
                    first_ms = (time.perf_counter() - started) * 1000
                    fire(
                        request_type="grpc",
                        name="download_ttfb",
                        response_time=first_ms,
                        response_length=0,
                        exception=None,
                        context=context,
                        start_time=started_wall,
                    )
                if chunk.done:
                    break
                digest.update(chunk.data)
                size += len(chunk.data)
            if digest.hexdigest() != sha256:
                error = IntegrityError(f"sha256 mismatch for {name} from {address}")
        except grpc.RpcError as exc:
            error = exc
            if first_ms is None:
                fire(
                    request_type="grpc",
                    name="download_ttfb",
                    response_time=(time.perf_counter() - started) * 1000,
                    response_length=0,
                    exception=exc,
                    context=context,
                    start_time=started_wall,
                )
        fire(
            request_type="grpc",
            name="download",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=size,
            exception=error,
            context={**context, "violation": getattr(error, "kind", None)},
            start_time=started_wall,
        )
        return error is None

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
