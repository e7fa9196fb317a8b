import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from aekit.codec import bitstream
from aekit.codec.coder import Tables
from aekit.errors import BitstreamError

DATA = Path(__file__).parent / "data"


def golden():
    meta = json.loads((DATA / "golden_v1.json").read_text())
    t = meta["tables"]
    tables = Tables(np.array(t["offsets"]), np.array(t["lengths"]), np.array(t["freqs"]), t["precision"])
    return (DATA / "golden_v1.aek").read_bytes(), meta, tables


def with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "big")


def test_golden_stream_parses_and_decodes():
    data, meta, tables = golden()
    header, payload = bitstream.unpack(data)
    assert header.version == 1
    assert header.fingerprint.hex() == meta["fingerprint"]
    assert header.count == meta["count"]
    assert header.latent_shape == tuple(meta["latent_shape"])
    assert len(payload) == header.payload_length == meta["payload_length"]
    assert tables.decode(payload, header.count).tolist() == meta["symbols"]


def test_golden_stream_is_reproduced_byte_for_byte():
    """Pins the format: same tables and symbols must give the very same bytes."""
    data, meta, tables = golden()
    payload = tables.encode(np.array(meta["symbols"]))
    assert bitstream.pack(bytes.fromhex(meta["fingerprint"]), meta["count"], meta["latent_shape"], payload) == data


def test_header_layout_matches_the_spec():
    data, meta, _ = golden()
    assert data[:2] == b"\xae\xc0" and data[2] == 1
    assert data[3:7] == bytes.fromhex(meta["fingerprint"])
    assert data[7] == 3                         # item count (varint)
    assert data[8] == 2 and data[9:11] == bytes([2, 3])     # ndim, dims (varints)
    assert data[11] == meta["payload_length"]               # payload length (varint)
    assert int.from_bytes(data[-4:], "big") == zlib.crc32(data[:-4])


def test_varints_over_one_byte_round_trip():
    data = bitstream.pack(b"abcd", 300, (1000, 2), b"x" * 200)
    header, payload = bitstream.unpack(data)
    assert (header.count, header.latent_shape, payload) == (300, (1000, 2), b"x" * 200)


def test_every_byte_flip_and_truncation_of_the_golden_stream_is_caught():
    data, _, _ = golden()
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            with pytest.raises(BitstreamError):
                bitstream.unpack(bytes(bad))
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            bitstream.unpack(data[:n])
    with pytest.raises(BitstreamError, match="unexpected bytes"):
        bitstream.unpack(data + b"\0")


@pytest.mark.parametrize("body, match", [
    (b"PK\x03\x04" + b"\0" * 20, "not an aekit bitstream"),
    (b"\xae\xc0\x02" + b"\0" * 20, "version 2 is not supported"),
    (b"\xae\xc0\x01abcd" + bitstream._varint(1 << 20) + b"\x01\x01\x00", "item count"),
    (b"\xae\xc0\x01abcd\x01\x09\x01\x01", "axes"),
    (b"\xae\xc0\x01abcd\x01\x02" + bitstream._varint(1 << 16) + bitstream._varint(1 << 16) + b"\x00",
     "symbols per item"),
    (b"\xae\xc0\x01abcd\x01\x01\x01" + bitstream._varint(1 << 29), "payload length"),
    (b"\xae\xc0\x01abcd\x01\x01\x01\x80\x80\x80\x80\x80\x01", "longer than"),
    (b"\xae\xc0\x01abcd\x01\x01\x01\x80\x00", "not minimally encoded"),
    (b"\xae\xc0\x01abcd\x01\x01\x01\x7f", "truncated"),
])
def test_bad_headers_are_refused_before_allocating(body, match):
    # valid CRC on purpose: the bounds, not the checksum, must catch these
    with pytest.raises(BitstreamError, match=match):
        bitstream.unpack(with_crc(body))


def test_pack_refuses_out_of_range_fields():
    with pytest.raises(ValueError, match="fingerprint"):
        bitstream.pack(b"abc", 1, (4,), b"")
    with pytest.raises(ValueError, match="item count"):
        bitstream.pack(b"abcd", 0, (4,), b"")
    with pytest.raises(TypeError):
        bitstream.unpack("not bytes")
