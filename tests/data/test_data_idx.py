import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from aekit.data import load_idx, save_idx
from aekit.errors import DataError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (2, 1, 3, 2)])
def test_round_trip(tmp_path, dtype, name, shape):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = save_idx(tmp_path / name, array)
    loaded = load_idx(path)
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)
    assert loaded.flags.writeable


def test_big_endian_on_disk(tmp_path):
    save_idx(tmp_path / "a.idx", np.array([1, 258], dtype=np.int16))
    assert (tmp_path / "a.idx").read_bytes() == bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0, 1, 1, 2])


def test_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    save_idx(tmp_path / "a.gz", array)
    (tmp_path / "a.gz").rename(tmp_path / "plain-name-idx2-ubyte")
    np.testing.assert_array_equal(load_idx(tmp_path / "plain-name-idx2-ubyte"), array)

    save_idx(tmp_path / "raw.idx", array)
    (tmp_path / "raw.idx").rename(tmp_path / "raw.idx.gz")  # .gz name, raw content
    np.testing.assert_array_equal(load_idx(tmp_path / "raw.idx.gz"), array)


@pytest.mark.parametrize(
    "content, found",
    [
        (b"\x89PNG\r\n\x1a\n", "89 50 4e 47"),
        (bytes([0, 0, 0x0A, 1, 0, 0, 0, 0]), "00 00 0a 01"),  # unknown type code
        (b"\x00\x00", "00 00"),
        (b"", "(empty)"),
    ],
)
def test_wrong_magic(tmp_path, content, found):
    path = tmp_path / "bad.idx"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not an IDX file") as info:
        load_idx(path)
    assert found in str(info.value)


@pytest.mark.parametrize("ndim", [0, 5])
def test_bad_ndim(tmp_path, ndim):
    path = tmp_path / "bad.idx"
    path.write_bytes(bytes([0, 0, 8, ndim]) + b"\x00\x00\x00\x01" * ndim + b"\x00")
    with pytest.raises(DataError, match=f"declares {ndim} dimensions, expected 1 to 4"):
        load_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 2]))
    with pytest.raises(DataError, match="truncated in its header"):
        load_idx(path)


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_truncated_payload(tmp_path, name):
    path = save_idx(tmp_path / name, np.zeros((4, 5), dtype=np.int16))
    data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    data = data[:-3]
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(DataError, match="truncated.* 40 payload bytes, file holds 37"):
        load_idx(path)


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_trailing_bytes(tmp_path, name):
    path = save_idx(tmp_path / name, np.zeros(6, dtype=np.float32))
    data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    data += b"junk"
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(DataError, match="trailing data.* 24 payload bytes, file holds 28"):
        load_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_huge_declared_dims_do_not_allocate(tmp_path, compress):
    # 4 dims of 2**32 - 1 doubles: ~2.7e39 bytes declared, 16 bytes present.
    data = bytes([0, 0, 0x0E, 4]) + struct.pack(">4I", *[2**32 - 1] * 4) + b"\x00" * 16
    path = tmp_path / "huge.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="truncated"):
            load_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "a.idx.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 100]) + bytes(100))[:-12])
    with pytest.raises(DataError, match="a.idx.gz"):
        load_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_idx(tmp_path / "nope.idx")


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros(3, dtype=np.int64), "cannot save dtype int64"),
        (np.zeros((1,) * 5, dtype=np.uint8), "5-D array"),
        (np.uint8(3), "0-D array"),
    ],
)
def test_save_rejects(tmp_path, array, match):
    with pytest.raises(DataError, match=match):
        save_idx(tmp_path / "a.idx", array)
