"""The hand-written ``Chunk`` codec speaks exactly protobuf's wire format."""

from __future__ import annotations

import os

import pytest

from proto import p2p_pb2
from proto.chunks import decode_chunk, encode_data_chunk

INFO = p2p_pb2.FileInfo(name="x", size=5, sha256="ab", node="n1")


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 1 << 20])
def test_hand_encoded_chunks_decode_as_protobuf_chunks(size):
    data = os.urandom(size)
    for with_info in (None, INFO):
        chunk = p2p_pb2.Chunk.FromString(encode_data_chunk(12345, data, with_info))
        assert chunk.data == data and chunk.offset == 12345
        assert chunk.info == with_info if with_info else not chunk.HasField("info")


@pytest.mark.parametrize(
    "message",
    [
        p2p_pb2.Chunk(offset=7, data=b"abc", info=INFO),  # protobuf's order: data before info
        p2p_pb2.Chunk(done=True, total=2**40, sha256="f" * 64),
        p2p_pb2.Chunk(info=INFO),
        p2p_pb2.Chunk(),
        p2p_pb2.Chunk(offset=2**63, data=os.urandom(1 << 20)),
    ],
)
def test_protobuf_encoded_chunks_decode_by_hand(message):
    got = decode_chunk(message.SerializeToString())
    assert isinstance(got.data, memoryview) and bytes(got.data) == message.data
    assert (got.offset, got.done, got.total, got.sha256) == (
        message.offset,
        message.done,
        message.total,
        message.sha256,
    )
    assert got.info == (message.info if message.HasField("info") else None)


def test_the_last_data_field_wins_and_unknown_fields_are_skipped():
    first = p2p_pb2.Chunk(data=b"old").SerializeToString()
    unknown = bytes([15 << 3 | 0, 5, 14 << 3 | 5, 1, 2, 3, 4, 13 << 3 | 1]) + bytes(8)
    got = decode_chunk(first + unknown + encode_data_chunk(3, b"new", INFO))
    assert bytes(got.data) == b"new" and got.offset == 3 and got.info == INFO


@pytest.mark.parametrize(
    "raw",
    [
        encode_data_chunk(0, b"x" * 300, None)[:-1],  # data shorter than its length says
        b"\x08\xff",  # offset varint cut short
        b"\x08" + b"\xff" * 11,  # varint longer than 64 bits
        b"\x1a\x05\x0a",  # info cut short
        b"\x0b",  # wire type 3 (groups) is not in p2p.proto
        b"\x1a\x02\x0a\x05",  # info whose name overruns it: protobuf's own error
    ],
)
def test_malformed_chunks_raise_value_error(raw):
    with pytest.raises(ValueError):
        decode_chunk(raw)


def test_a_chunk_made_of_many_small_fields_is_refused_early():
    many_offsets = b"\x08\x01" * (1 << 20)  # 2 MiB of 2-byte fields, no data
    with pytest.raises(ValueError, match="exceed"):
        decode_chunk(many_offsets)
