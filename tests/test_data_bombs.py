"""Data bombs are refused before anything is allocated (issue 18, item 4): a compressed .npz member,
a gzip'ed IDX file and a folder of images are bounded by the size their headers declare."""

from __future__ import annotations

import gzip
import shutil
import struct
import zipfile
import zlib

import numpy as np
import pytest

from aekit.cli import main
from aekit.data import MAX_DATA_BYTES, MAX_PIXELS, load_array, load_dataset, load_image_folder
from aekit.errors import DataError


def _png(path, width: int, height: int) -> None:
    """A real 8-bit grayscale PNG of zeros: a few KB for millions of pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * ((width + 1) * height), 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _npz_bomb(path, n_bytes: int) -> None:
    """An .npz whose X.npy deflates ``n_bytes`` of zeros into a few hundred KB."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (n_bytes // 4,)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("X.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, header)
        block = bytes(16 << 20)
        for _ in range(n_bytes // len(block)):
            f.write(block)


def test_an_npz_bomb_is_refused_from_its_header(tmp_path, capsys):
    _npz_bomb(tmp_path / "bomb.npz", 64 << 20)
    assert (tmp_path / "bomb.npz").stat().st_size < 1 << 20
    with pytest.raises(DataError, match=r"decodes to 67108864 bytes .* over the limit .*--max-data-mib"):
        load_array(tmp_path / "bomb.npz", max_bytes=16 << 20)
    args = ["-q", "train", "--data", str(tmp_path / "bomb.npz"), "--epochs", "1", "--max-data-mib", "16"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1 and "--max-data-mib" in err, err
    assert load_array(tmp_path / "bomb.npz", max_bytes=64 << 20)[0].shape == (16 << 20,)  # raised: loads


def test_the_default_limit_refuses_a_3_gib_member(tmp_path):
    assert MAX_DATA_BYTES < 3 << 30
    header = {"descr": "<f4", "fortran_order": False, "shape": ((3 << 30) // 4,)}
    with zipfile.ZipFile(tmp_path / "b.npz", "w", zipfile.ZIP_DEFLATED) as zf, zf.open("X.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
    with pytest.raises(DataError, match="over the limit"):
        load_array(tmp_path / "b.npz")


def test_a_gzipped_idx_bomb_is_refused_from_its_header(tmp_path):
    with gzip.open(tmp_path / "x-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">I", 0x0801) + struct.pack(">I", 16 << 20))
        f.write(bytes(16 << 20))
    with pytest.raises(DataError, match="over the limit"):
        load_array(tmp_path / "x-idx1-ubyte.gz", max_bytes=4 << 20)
    assert load_array(tmp_path / "x-idx1-ubyte.gz", max_bytes=16 << 20)[0].shape == (16 << 20,)


def test_a_folder_of_images_at_the_pixel_limit_is_refused_before_decoding(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    _png(folder / "000.png", 4096, 4096)  # each at the limit of one image
    assert MAX_PIXELS >= 4096 * 4096 and (folder / "000.png").stat().st_size < 64 << 10
    for i in range(1, 60):
        shutil.copy(folder / "000.png", folder / f"{i:03d}.png")
    with pytest.raises(DataError, match=r"the 60 images of .* over the limit .*--max-data-mib"):
        load_image_folder(folder)
    with pytest.raises(DataError, match="over the limit"):
        load_dataset(folder, split="all")
    assert main(["-q", "train", "--data", str(folder), "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-data-mib" in err and "Traceback" not in err, err


def test_a_folder_within_a_raised_limit_loads(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}.png", 64, 32)
    with pytest.raises(DataError, match="over the limit"):
        load_image_folder(tmp_path, max_bytes=3 * 64 * 32 * 4 - 1)
    assert load_image_folder(tmp_path, max_bytes=3 * 64 * 32 * 4)[0].shape == (3, 1, 32, 64)
