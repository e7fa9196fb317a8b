"""Format version 4 (a hyperprior photo): golden file, layout, every flip and truncation refused, bounds."""

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from aekit.codec import bitstream
from aekit.codec.coder import Tables
from aekit.codec.hyper_message import HyperTables, decode_hyper_symbols
from aekit.codec.intnet import IntegerNet
from aekit.errors import BitstreamError

DATA = Path(__file__).parent / "data"  # golden_v4.* written by data/make_golden_v4.py


def golden():
    meta = json.loads((DATA / "golden_v4.json").read_text())

    def tables(t):
        return Tables(np.array(t["offsets"]), np.array(t["lengths"]), np.array(t["freqs"]), meta["precision"])

    net = IntegerNet.from_state({k: np.array(v, dtype=np.int64) for k, v in meta["net"].items()})
    hyper = HyperTables(tables(meta["z_tables"]), tables(meta["y_tables"]), net)
    return (DATA / "golden_v4.aek").read_bytes(), meta, hyper, bytes.fromhex(meta["fingerprint"])


def test_golden_hyper_stream_parses_and_decodes():
    data, meta, tables, fingerprint = golden()
    header, z_payload, y_payload = bitstream.unpack_hyper(data, fingerprint)
    assert (header.version, header.height, header.width, header.channels) == (4, 20, 35, 3)
    assert header.model_id.hex() == meta["model_id"]
    assert header.side_length == len(z_payload) and header.payload_length == len(z_payload) + len(y_payload)
    z, j, y, height, width = decode_hyper_symbols(data, tables, fingerprint, 3)
    assert (height, width) == (20, 35)
    assert (
        z.tolist() == meta["z_symbols"] and j.tolist() == meta["indices"] and y.tolist() == meta["y_symbols"]
    )
    assert len(np.unique(j)) == 3  # the three scale tables are all used


def test_golden_hyper_stream_is_reproduced_byte_for_byte_and_matches_the_spec():
    data, meta, tables, fingerprint = golden()
    z = np.array(meta["z_symbols"])
    z_payload = tables.z.encode(z.reshape(len(z), -1).T)
    y_payload = tables.y.encode_indexed(np.array(meta["y_symbols"]), np.array(meta["indices"]))
    assert bitstream.pack_hyper(fingerprint, 20, 35, 3, z_payload, y_payload) == data
    assert data[0] == 0xAE and data[1] == 4  # magic, version
    assert data[2:4] == fingerprint[:2]  # model id
    assert data[4] == 20 and data[5] == 35 and data[6] == 3  # height, width (varints), channels
    assert data[7] == len(z_payload) and data[8] == len(y_payload)  # the two payload lengths
    assert data[9 : 9 + len(z_payload)] == z_payload and data[9 + len(z_payload) : -4] == y_payload
    assert int.from_bytes(data[-4:], "big") == zlib.crc32(fingerprint + data[:-4])


def test_every_byte_flip_and_truncation_of_the_golden_hyper_stream_is_caught():
    data, _, tables, fingerprint = golden()
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            with pytest.raises(BitstreamError):
                decode_hyper_symbols(bytes(bad), tables, fingerprint, 3)
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            decode_hyper_symbols(data[:n], tables, fingerprint, 3)
    with pytest.raises(BitstreamError, match="unexpected bytes"):
        bitstream.unpack_hyper(data + b"\0", fingerprint)


def test_versions_are_told_apart_by_name():
    data, meta, _, fingerprint = golden()
    v3 = (DATA / "golden_v3.aek").read_bytes()
    v3_fingerprint = bytes.fromhex(json.loads((DATA / "golden_v3.json").read_text())["fingerprint"])
    with pytest.raises(BitstreamError, match="hyperprior"):
        bitstream.unpack_image(data, fingerprint)
    with pytest.raises(BitstreamError, match="factorized"):
        bitstream.unpack_hyper(v3, v3_fingerprint)
    with pytest.raises(BitstreamError, match="photo stream"):
        bitstream.unpack(data, fingerprint)
    header, _ = bitstream.read_image_header(data)  # what the CLI and the service read to pick the model
    assert header.version == 4 and header.model_id.hex() == meta["model_id"]


def test_sizes_are_bounded_before_allocating():
    fp = bytes(32)
    head = b"\xae\x04" + fp[:2]
    big = bitstream._varint(bitstream.MAX_PAYLOAD + 1)
    with pytest.raises(BitstreamError, match="z payload length"):
        bitstream.read_image_header(head + bytes([20, 35, 3]) + big + bytes([1]) + bytes(8))
    half = bitstream._varint(bitstream.MAX_PAYLOAD // 2 + 1)
    with pytest.raises(BitstreamError, match="payload length"):
        bitstream.read_image_header(head + bytes([20, 35, 3]) + half + half + bytes(8))
    huge = bitstream._varint(bitstream.MAX_IMAGE_SIDE + 1)
    with pytest.raises(BitstreamError, match="height"):
        bitstream.read_image_header(head + huge + bytes([35, 3, 1, 1]) + bytes(8))
    with pytest.raises(ValueError, match="channels"):
        bitstream.pack_hyper(fp, 20, 35, 2, b"", b"")
