"""The node's gRPC server: ``grpc.aio`` on an asyncio loop in an OS thread of its own.

Why not grpcio's synchronous server: it hands every streamed message from the servicer's thread
to its polling thread and waits for the send to complete before taking the next one; a
single-stream download then ran ~25 % slower than under ``grpc.aio`` (bench/node_bench.py and
the A/B runs in the issue notes). Why a thread: the rest of the node runs on gevent, and gRPC
under gevent starved (FIELD-NOTES). Two conditions make ``grpc.aio`` work in a gevent process:
``grpc.aio`` is imported by the main thread (importing it from the new thread deadlocked on the
import lock), and ``select`` is not monkey-patched, so the loop polls with a real epoll
(``node/__main__.py``).

The other threads talk to the loop only through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import selectors
import socket
import threading

import grpc
import grpc.aio  # imported here, by the main thread: see the module docstring
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from proto import p2p_pb2

from .config import GRPC_MAX_MESSAGE
from .transfer import SERVICE_NAME, FileTransferServicer

START_TIMEOUT_S = 10.0
#: The logger of gRPC's asyncio server, and the failed operation of a call's last step.
GRPC_AIO_LOGGER = "grpc._cython.cygrpc"
STATUS_OP = "SendStatusFromServerOperation"
SERVER_OPTIONS = [
    ("grpc.so_reuseport", 0),  # otherwise a second node binds the same port silently
    ("grpc.max_send_message_length", GRPC_MAX_MESSAGE),
    ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 1000),
    ("grpc.http2.max_ping_strikes", 0),
]


def _handlers(servicer: FileTransferServicer) -> grpc.GenericRpcHandler:
    """Like the generated ``add_FileTransferServicer_to_server``, except that Download's
    answers are already bytes (``proto.chunks.encode_data_chunk``): its serializer is the
    identity."""
    methods = {
        "Download": grpc.unary_stream_rpc_method_handler(
            servicer.Download,
            request_deserializer=p2p_pb2.DownloadRequest.FromString,
            response_serializer=bytes,
        ),
        "Stat": grpc.unary_unary_rpc_method_handler(
            servicer.Stat,
            request_deserializer=p2p_pb2.StatRequest.FromString,
            response_serializer=p2p_pb2.FileInfo.SerializeToString,
        ),
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, methods)


class ClientLeft(logging.Filter):
    """Drops gRPC's record, with a traceback, of a status it could not send because the client
    had already cancelled the call (an ``ExecuteBatchError`` on the status alone: the client
    took every message and hung up first, as a stopped downloader may). Nothing failed on this
    side, and a traceback in a node's log reads as a crash; any other error is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if type(exc).__name__ != "ExecuteBatchError":
            return True
        return str(exc).count("Operation object") != 1 or STATUS_OP not in str(exc)


def check_port_free(host: str, port: int) -> None:
    """Bind-test ``host:port`` so a taken port is one clear line, not gRPC core's log."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen for gRPC on {host}:{port}: {exc.strerror}") from None


def _new_loop() -> asyncio.AbstractEventLoop:
    """An event loop on a real epoll (``selectors.DefaultSelector`` where there is none)."""
    selector_class = getattr(selectors, "EpollSelector", selectors.DefaultSelector)
    return asyncio.SelectorEventLoop(selector_class())


CLIENT_LEFT = ClientLeft()  # one instance: adding it again is a no-op


class GrpcServer:
    """FileTransfer and grpc.health.v1 on ``host:port``; ``start`` and ``stop`` from any thread."""

    def __init__(self, host: str, port: int, servicer: FileTransferServicer) -> None:
        self.host, self.port = host, port
        self.servicer = servicer
        self._ready = threading.Event()
        self._error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._health: health.aio.HealthServicer | None = None
        self._thread = threading.Thread(target=self._run, name="grpc-loop", daemon=True)
        self._grace_s = 0.0

    def start(self) -> int:
        """Listen and serve; the bound port. ``OSError`` (one line) if it cannot listen."""
        logging.getLogger(GRPC_AIO_LOGGER).addFilter(CLIENT_LEFT)
        if self.port:
            check_port_free(self.host, self.port)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise OSError(f"gRPC server on {self.host}:{self.port} did not start")
        if self._error is not None or self._loop is None:
            self._thread.join(START_TIMEOUT_S)
            raise OSError(self._error or f"gRPC server on {self.host}:{self.port} did not start")
        return self.port

    def enter_graceful_shutdown(self) -> None:
        """Health answers NOT_SERVING from now on; calls are still served."""
        loop, servicer = self._loop, self._health
        if loop is not None and servicer is not None:
            try:
                asyncio.run_coroutine_threadsafe(servicer.enter_graceful_shutdown(), loop)
            except RuntimeError:
                pass  # the loop has closed: nothing is served any more

    def stop(self, grace_s: float) -> bool:
        """Refuse new calls, give running ones ``grace_s``, then end; blocks until done.
        False if the loop's thread was still running when we gave up waiting."""
        loop, stop = self._loop, self._stop
        if loop is None or stop is None or not self._thread.is_alive():
            return True
        self._grace_s = grace_s
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:  # the loop closed meanwhile: nothing left to stop
            return True
        self._thread.join(grace_s + START_TIMEOUT_S)
        return not self._thread.is_alive()

    # -- the loop's thread ----------------------------------------------------------------
    def _run(self) -> None:
        loop = _new_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except Exception as exc:  # start() reports it; after a start, the node is draining
            self._error = self._error or f"gRPC server on {self.host}:{self.port} failed: {exc}"
        finally:
            self._loop = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._ready.set()  # whatever happened, start() does not wait in vain

    async def _serve(self) -> None:
        server = grpc.aio.server(options=SERVER_OPTIONS)
        server.add_generic_rpc_handlers((_handlers(self.servicer),))
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        try:
            bound = server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError:
            bound = 0
        if not bound:
            self._error = (
                f"cannot listen for gRPC on {self.host}:{self.port}: address in use or unavailable"
            )
            return
        await server.start()
        for service in ("", SERVICE_NAME):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        self.port, self._stop, self._loop = bound, asyncio.Event(), asyncio.get_running_loop()
        self._ready.set()
        await self._stop.wait()
        await self._health.enter_graceful_shutdown()
        await server.stop(self._grace_s)
