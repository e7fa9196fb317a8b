import hashlib
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from aekit.codec import bitstream
from aekit.codec.coder import Tables
from aekit.errors import BitstreamError

DATA = Path(__file__).parent / "data"


FP = hashlib.sha256(b"any model").digest()


def golden():
    meta = json.loads((DATA / "golden_v2.json").read_text())
    t = meta["tables"]
    tables = Tables(np.array(t["offsets"]), np.array(t["lengths"]), np.array(t["freqs"]), t["precision"])
    return (DATA / "golden_v2.aek").read_bytes(), meta, tables


def with_crc(body: bytes, fingerprint: bytes = FP) -> bytes:
    return body + zlib.crc32(body, zlib.crc32(fingerprint)).to_bytes(4, "big")


def test_golden_stream_parses_and_decodes():
    data, meta, tables = golden()
    header, payload = bitstream.unpack(data, bytes.fromhex(meta["fingerprint"]))
    assert header.version == 2
    assert header.model_id.hex() == meta["model_id"] == meta["fingerprint"][:4]
    assert header.count == meta["count"]
    assert header.latent_shape == tuple(meta["latent_shape"])
    assert len(payload) == header.payload_length == meta["payload_length"]
    assert tables.decode(payload, header.count).tolist() == meta["symbols"]


def test_golden_stream_is_reproduced_byte_for_byte():
    """Pins the format: same tables and symbols must give the very same bytes."""
    data, meta, tables = golden()
    payload = tables.encode(np.array(meta["symbols"]))
    assert (
        bitstream.pack(bytes.fromhex(meta["fingerprint"]), meta["count"], meta["latent_shape"], payload)
        == data
    )


def test_header_layout_matches_the_spec():
    data, meta, _ = golden()
    fingerprint = bytes.fromhex(meta["fingerprint"])
    assert data[0] == 0xAE and data[1] == 2  # magic, version
    assert data[2:4] == fingerprint[:2]  # model id
    assert data[4] == 3  # item count (varint)
    assert data[5] == 2 and data[6:8] == bytes([2, 3])  # ndim, dims (varints)
    assert data[8] == meta["payload_length"]  # payload length (varint)
    assert len(data) == 9 + meta["payload_length"] + 4
    assert int.from_bytes(data[-4:], "big") == zlib.crc32(fingerprint + data[:-4])


def test_one_item_of_a_flat_latent_costs_a_12_byte_frame():
    assert len(bitstream.pack(FP, 1, (32,), b"p" * 13)) == 12 + 13


def test_varints_over_one_byte_round_trip():
    data = bitstream.pack(FP, 300, (1000, 2), b"x" * 200)
    header, payload = bitstream.unpack(data, FP)
    assert (header.count, header.latent_shape, payload) == (300, (1000, 2), b"x" * 200)


def test_every_byte_flip_and_truncation_of_the_golden_stream_is_caught():
    data, meta, _ = golden()
    fingerprint = bytes.fromhex(meta["fingerprint"])
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            with pytest.raises(BitstreamError):
                bitstream.unpack(bytes(bad), fingerprint)
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            bitstream.unpack(data[:n], fingerprint)
    with pytest.raises(BitstreamError, match="unexpected bytes"):
        bitstream.unpack(data + b"\0", fingerprint)


def test_another_model_is_told_apart_by_its_id_and_by_the_crc():
    data = bitstream.pack(FP, 1, (4,), b"abc")
    with pytest.raises(BitstreamError, match="wrong model"):
        bitstream.unpack(data, hashlib.sha256(b"another model").digest())
    same_id = FP[:2] + hashlib.sha256(b"another model").digest()[2:]  # ids collide, fingerprints differ
    with pytest.raises(BitstreamError, match="CRC-32 mismatch"):
        bitstream.unpack(data, same_id)


@pytest.mark.parametrize(
    "body, match",
    [
        (b"PK\x03\x04" + b"\0" * 20, "not an aekit bitstream"),
        (b"\xae\x03" + b"\0" * 20, "version 3 is not supported"),
        (b"\xae\xc0\x01abcd\x01\x01\x01\x00", "version 1 is not supported"),
        (b"\xae\x02ab" + bitstream._varint(1 << 20) + b"\x01\x01\x00", "item count"),
        (b"\xae\x02ab\x01\x09\x01\x01", "axes"),
        (
            b"\xae\x02ab\x01\x02" + bitstream._varint(1 << 16) + bitstream._varint(1 << 16) + b"\x00",
            "symbols per item",
        ),
        (b"\xae\x02ab\x01\x01\x01" + bitstream._varint(1 << 29), "payload length"),
        (b"\xae\x02ab\x01\x01\x01\x80\x80\x80\x80\x80\x01", "longer than"),
        (b"\xae\x02ab\x01\x01\x01\x80\x00", "not minimally encoded"),
        (b"\xae\x02ab\x01\x01\x01\x7f", "truncated"),
    ],
)
def test_bad_headers_are_refused_before_allocating(body, match):
    # valid CRC on purpose: the bounds, not the checksum, must catch these
    with pytest.raises(BitstreamError, match=match):
        bitstream.unpack(with_crc(body), FP)


def test_pack_refuses_out_of_range_fields():
    with pytest.raises(ValueError, match="32-byte SHA-256, got 3 bytes"):
        bitstream.pack(b"abc", 1, (4,), b"")
    with pytest.raises(ValueError, match="item count"):
        bitstream.pack(FP, 0, (4,), b"")
    with pytest.raises(TypeError):
        bitstream.unpack("not bytes", FP)
    with pytest.raises(TypeError, match="fingerprint"):
        bitstream.unpack(bitstream.pack(FP, 1, (4,), b""), "abc")
