"""Format version 3 (one photo): golden file, layout, every flip and truncation refused, versions told apart."""

import hashlib
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from aekit.codec import bitstream
from aekit.codec.coder import Tables
from aekit.codec.message import decode_photo
from aekit.errors import BitstreamError

DATA = Path(__file__).parent / "data"


def golden():
    meta = json.loads((DATA / "golden_v3.json").read_text())
    t = meta["tables"]
    tables = Tables(np.array(t["offsets"]), np.array(t["lengths"]), np.array(t["freqs"]), t["precision"])
    return (DATA / "golden_v3.aek").read_bytes(), meta, tables


def test_golden_photo_stream_parses_and_decodes():
    data, meta, tables = golden()
    fingerprint = bytes.fromhex(meta["fingerprint"])
    header, payload = bitstream.unpack_image(data, fingerprint)
    assert (header.version, header.height, header.width, header.channels) == (3, 20, 35, 3)
    assert header.model_id.hex() == meta["model_id"]
    assert len(payload) == header.payload_length == meta["payload_length"]
    symbols, height, width = decode_photo(data, tables, fingerprint, 3)
    assert (height, width) == (20, 35) and symbols.tolist() == meta["symbols"]


def test_golden_photo_stream_is_reproduced_byte_for_byte_and_matches_the_spec():
    data, meta, tables = golden()
    fingerprint = bytes.fromhex(meta["fingerprint"])
    payload = tables.encode(np.array(meta["symbols"]))
    assert bitstream.pack_image(fingerprint, 20, 35, 3, payload) == data
    assert data[0] == 0xAE and data[1] == 3  # magic, version
    assert data[2:4] == fingerprint[:2]  # model id
    assert data[4] == 20 and data[5] == 35 and data[6] == 3  # height, width (varints), channels
    assert data[7] == meta["payload_length"]
    assert len(data) == 8 + meta["payload_length"] + 4
    assert int.from_bytes(data[-4:], "big") == zlib.crc32(fingerprint + data[:-4])


def test_every_byte_flip_and_truncation_of_the_golden_photo_stream_is_caught():
    data, meta, tables = golden()
    fingerprint = bytes.fromhex(meta["fingerprint"])
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            with pytest.raises(BitstreamError):
                decode_photo(bytes(bad), tables, fingerprint, 3)
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            decode_photo(data[:n], tables, fingerprint, 3)
    with pytest.raises(BitstreamError, match="unexpected bytes"):
        bitstream.unpack_image(data + b"\0", fingerprint)


def test_versions_are_told_apart_by_name():
    photo, meta, _ = golden()
    v2 = (DATA / "golden_v2.aek").read_bytes()
    v2_meta = json.loads((DATA / "golden_v2.json").read_text())
    with pytest.raises(BitstreamError, match="photo stream"):
        bitstream.unpack(photo, bytes.fromhex(meta["fingerprint"]))
    with pytest.raises(BitstreamError, match="not a photo stream: it holds format version 2"):
        bitstream.unpack_image(v2, bytes.fromhex(v2_meta["fingerprint"]))
    with pytest.raises(BitstreamError, match="format version 1"):
        bitstream.unpack_image(b"\xae\xc0" + bytes(20), bytes(32))
    header, _ = bitstream.unpack(v2, bytes.fromhex(v2_meta["fingerprint"]))  # version 2 still reads
    assert header.version == 2


def test_sizes_are_bounded_before_allocating():
    fp = hashlib.sha256(b"m").digest()
    big = bitstream._varint(bitstream.MAX_IMAGE_SIDE + 1)
    body = b"\xae\x03" + fp[:2] + big + b"\x01\x03\x00"
    with pytest.raises(BitstreamError, match="height"):
        bitstream.unpack_image(body + zlib.crc32(body, zlib.crc32(fp)).to_bytes(4, "big"), fp)
    with pytest.raises(ValueError, match="channels"):
        bitstream.pack_image(fp, 2, 2, 2, b"")
    side = bitstream._varint(bitstream.MAX_IMAGE_SIDE)  # each side allowed, the product is not
    body = b"\xae\x03" + fp[:2] + side + side + b"\x03\x00"
    with pytest.raises(BitstreamError, match="pixels"):
        bitstream.unpack_image(body + zlib.crc32(body, zlib.crc32(fp)).to_bytes(4, "big"), fp)
    with pytest.raises(BitstreamError, match="wrong model"):
        bitstream.unpack_image(bitstream.pack_image(fp, 2, 2, 3, b"x"), hashlib.sha256(b"n").digest())
