"""File transfer over gRPC: the ``FileTransfer`` servicer and the pull a node does for
``POST /download``.

The servicer runs on the gRPC server's own asyncio loop (``node/grpcserver.py``), not on gevent:
under HTTP load on the same process, gevent-mode gRPC starved (FIELD-NOTES). Pulls are blocking
gRPC calls, so the node runs them in gevent's threadpool; one slow peer then cannot freeze the
HTTP loop.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import threading
import time
from pathlib import Path

import grpc
import grpc.aio
import grpc.experimental

from proto import p2p_pb2, p2p_pb2_grpc
from proto.chunks import download_call, encode_data_chunk

from .catalog import Catalog, FileRecord, NoSpace, is_no_space, no_space
from .config import CHUNK_SIZE, GRPC_MAX_MESSAGE, GRPC_MAX_STREAMS, MIN_CHUNK
from .memory import Transfers
from .metrics import IN, NO_METRICS, OUT, NodeMetrics
from .names import BadName, check_name
from .netfaults import NetFaults, black_hole_s

PEER_METADATA = "x-peer"
SERVICE_NAME = "peerload.p2p.FileTransfer"
TRANSFERS = Transfers()  # the heap is trimmed when the last download ends

CLIENT_OPTIONS = [
    ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE),
    # a pull reads its stream on the thread that made the call, no hand-off per message
    (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 1_000),
    ("grpc.http2.ping_timeout_ms", 1_000),
]


INSUFFICIENT_STORAGE = 507  # this node's disk has no room for the pulled file


class TransferError(Exception):
    """A pull that failed; ``status`` is the HTTP status the API should answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def clamp_chunk(requested: int) -> int:
    return CHUNK_SIZE if requested <= 0 else max(MIN_CHUNK, min(CHUNK_SIZE, requested))


def _served(download):
    """``Download``, each stream counted as served (``ok``) or not (node/metrics.py)."""

    @functools.wraps(download)
    async def counted(self: FileTransferServicer, request, context) -> None:
        ok = False
        try:
            await download(self, request, context)
            ok = True
        finally:
            self.metrics.download(OUT, ok)

    return counted


class FileTransferServicer(p2p_pb2_grpc.FileTransferServicer):
    """Serves files from the catalog on the gRPC loop (``node/grpcserver.py``); method names
    are the RPCs'. Runs on that loop's thread: it reads only the catalog's published view."""

    def __init__(
        self,
        catalog: Catalog,
        node_name: str,
        faults: NetFaults,
        metrics: NodeMetrics = NO_METRICS,
    ) -> None:
        self.catalog = catalog
        self.node_name = node_name
        self.faults = faults
        self.metrics = metrics
        # At most this many files streamed at once (one open file and 1 MiB each); the others
        # wait their turn within their deadline, as they did for the threads of the sync server.
        self._streams = asyncio.Semaphore(GRPC_MAX_STREAMS)

    async def _lookup(self, name: str, context: grpc.aio.ServicerContext) -> FileRecord:
        peer = dict(context.invocation_metadata() or ()).get(PEER_METADATA)
        if self.faults.drops(peer):
            await asyncio.sleep(black_hole_s(context.time_remaining()))
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "partitioned")
        try:
            check_name(name)
        except BadName as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        record = self.catalog.get(name)
        if record is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no file named {name!r}")
        return record

    def _info(self, record: FileRecord) -> p2p_pb2.FileInfo:
        return p2p_pb2.FileInfo(
            name=record.name, size=record.size, sha256=record.sha256, node=self.node_name
        )

    async def Stat(self, request, context):
        return self._info(await self._lookup(request.name, context))

    @_served
    async def Download(self, request, context):
        """Writes each ``Chunk`` already encoded (``proto.chunks.encode_data_chunk``)."""
        record = await self._lookup(request.name, context)
        if request.sha256 and request.sha256 != record.sha256:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, "sha256 differs from stored file"
            )
        chunk = clamp_chunk(request.chunk_size)
        info = self._info(record)
        async with self._streams:
            offset = await self._stream(record, chunk, info, context)
        if offset == 0:
            await context.write(p2p_pb2.Chunk(info=info).SerializeToString())
        await context.write(
            p2p_pb2.Chunk(done=True, total=offset, sha256=record.sha256).SerializeToString()
        )

    async def _stream(self, record: FileRecord, chunk: int, info, context) -> int:
        """The file's data chunks; how many bytes were sent."""
        offset = 0
        with TRANSFERS, open(self.catalog.path_of(record.name), "rb") as f:
            while data := f.read(chunk):
                await context.write(encode_data_chunk(offset, data, info if offset == 0 else None))
                offset += len(data)
                self.metrics.moved(OUT, len(data))
        return offset


class Puller:
    """Pulls files from other nodes into this node's catalog (blocking; run in a thread)."""

    def __init__(
        self,
        catalog: Catalog,
        node_name: str,
        faults: NetFaults,
        max_size: int,
        *,
        metrics: NodeMetrics = NO_METRICS,
    ) -> None:
        self.catalog = catalog
        self.node_name = node_name
        self.faults = faults
        self.metrics = metrics  # bytes here, each pull's outcome where it ends (node/server.py)
        self.max_size = max_size  # a pull is an upload by other means: same limit
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()

    def _download(self, address: str) -> grpc.UnaryStreamMultiCallable:
        with self._lock:  # pulls run on several threads
            channel = self._channels.get(address)
            if channel is None:
                channel = grpc.insecure_channel(address, options=CLIENT_OPTIONS)
                self._channels[address] = channel
        return download_call(channel)

    def pull(
        self, address: str, name: str, sha256: str, *, timeout: float, peer_name: str | None
    ) -> FileRecord:
        """Download ``name`` from ``address``, verify ``sha256``, and index it atomically."""
        if self.faults.drops(peer_name):  # a black hole, bounded: no pull hangs for a minute
            time.sleep(black_hole_s(timeout))
            raise TransferError(504, f"link to {peer_name} is partitioned")
        tmp = self.catalog.temp_path()
        try:
            size, digest = self._receive(address, name, sha256, timeout, tmp)
            if digest != sha256:
                raise TransferError(502, f"sha256 mismatch: got {digest}, expected {sha256}")
            return self.catalog.adopt(tmp, name, size, digest)
        except NoSpace as exc:
            raise TransferError(INSUFFICIENT_STORAGE, str(exc)) from None
        except OSError as exc:
            if not is_no_space(exc):
                raise
            raise TransferError(INSUFFICIENT_STORAGE, str(no_space(exc, "pulled file"))) from None
        finally:
            tmp.unlink(missing_ok=True)

    def _receive(self, address, name, sha256, timeout, tmp: Path) -> tuple[int, str]:
        digest, size, done = hashlib.sha256(), 0, None
        stream = self._download(address)(
            p2p_pb2.DownloadRequest(name=name, sha256=sha256),
            timeout=timeout,
            metadata=((PEER_METADATA, self.node_name),),
        )
        try:
            with TRANSFERS, open(tmp, "wb") as f:
                for chunk in stream:
                    if chunk.done:
                        done = chunk
                        break
                    if chunk.offset != size:
                        raise TransferError(502, f"chunk at offset {chunk.offset}, expected {size}")
                    if size + len(chunk.data) > self.max_size:
                        raise TransferError(413, f"file larger than the limit of {self.max_size}")
                    f.write(chunk.data)
                    digest.update(chunk.data)
                    size += len(chunk.data)
                    self.metrics.moved(IN, len(chunk.data))
                f.flush()
                os.fsync(f.fileno())
        except grpc.RpcError as exc:
            raise TransferError(_http_status(exc.code()), f"{address}: {exc.details()}") from None
        finally:
            stream.cancel()
        if done is None or done.total != size:
            raise TransferError(502, f"{address}: stream ended early after {size} bytes")
        return size, digest.hexdigest()

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()


def _http_status(code: grpc.StatusCode) -> int:
    return {
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.FAILED_PRECONDITION: 409,
        grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    }.get(code, 502)
