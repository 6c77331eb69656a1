"""``Chunk`` messages on the wire, written and read by hand around their 1 MiB ``data`` field.

A download is a stream of 1 MiB chunks. Building or parsing a ``Chunk`` with protobuf copies its
``data`` each time, and those copies were the largest cost of a download on both ends
(bench/node_bench.py with perf). Here ``data`` is appended with one copy on the way out and
handed on as a ``memoryview`` of the received message on the way in; every other field still goes
through protobuf, so the wire format is exactly ``p2p.proto``'s (round trips are tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from . import p2p_pb2

DATA_FIELD = 2  # Chunk.data
LENGTH_DELIMITED, VARINT, FIXED64, FIXED32 = 2, 0, 1, 5
DATA_TAG = bytes([DATA_FIELD << 3 | LENGTH_DELIMITED])
DOWNLOAD_METHOD = "/peerload.p2p.FileTransfer/Download"
FIXED_SIZE = {FIXED64: 8, FIXED32: 4}
MAX_OTHER_BYTES = 64 * 1024  # all fields but data: a name, a digest, a few numbers


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_data_chunk(offset: int, data: bytes, info: p2p_pb2.FileInfo | None) -> bytes:
    """The wire bytes of ``Chunk(offset, data, info)`` with one copy of ``data``.

    Protobuf accepts fields in any order, so the small fields are serialised normally and
    ``data`` appended after them."""
    head = p2p_pb2.Chunk(offset=offset, info=info).SerializeToString()
    return b"".join((head, DATA_TAG, _varint(len(data)), data))


def _read_varint(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(raw) or shift > 63:
            raise ValueError("truncated or overlong varint in Chunk")
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


@dataclass(slots=True)
class ReceivedChunk:
    """A decoded ``Chunk``: the same fields, ``data`` a view of the received bytes."""

    offset: int
    data: memoryview
    info: p2p_pb2.FileInfo | None
    done: bool
    total: int
    sha256: str


def decode_chunk(raw: bytes) -> ReceivedChunk:
    """Parse a ``Chunk`` without copying ``data``; raise ``ValueError`` on a malformed message.

    The top-level fields are walked once: ``data`` (the last one wins, as in protobuf) is kept
    as a view, the few other bytes are parsed by protobuf itself."""
    view, rest = memoryview(raw), bytearray()
    data, pos = view[0:0], 0
    while pos < len(raw):
        start = pos
        key, pos = _read_varint(raw, pos)
        wire = key & 7
        if wire == VARINT:
            _, pos = _read_varint(raw, pos)
        elif wire == LENGTH_DELIMITED:
            length, pos = _read_varint(raw, pos)
            if pos + length > len(raw):
                raise ValueError("truncated field in Chunk")
            if key >> 3 == DATA_FIELD:
                data, pos = view[pos : pos + length], pos + length
                continue
            pos += length
        elif wire in FIXED_SIZE:
            pos += FIXED_SIZE[wire]
        else:
            raise ValueError(f"unsupported wire type {wire} in Chunk")
        if pos > len(raw):
            raise ValueError("truncated field in Chunk")
        rest += view[start:pos]
        if len(rest) > MAX_OTHER_BYTES:  # or a hostile server makes us parse a million fields
            raise ValueError(f"Chunk fields other than data exceed {MAX_OTHER_BYTES} bytes")
    try:
        small = p2p_pb2.Chunk.FromString(bytes(rest))
    except DecodeError as exc:
        raise ValueError(f"malformed Chunk: {exc}") from None
    info = small.info if small.HasField("info") else None
    return ReceivedChunk(small.offset, data, info, small.done, small.total, small.sha256)


def download_call(channel: grpc.Channel) -> grpc.UnaryStreamMultiCallable:
    """``FileTransfer.Download`` on ``channel``, answering ``ReceivedChunk`` objects."""
    return channel.unary_stream(
        DOWNLOAD_METHOD,
        request_serializer=p2p_pb2.DownloadRequest.SerializeToString,
        response_deserializer=decode_chunk,
    )
