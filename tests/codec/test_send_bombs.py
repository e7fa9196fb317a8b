"""``aekit send`` reads an image with read_image's pixel limit: a PNG declaring a huge image is a
one-line error before any pixel is decoded (issue 18, item 4)."""

import struct
import zlib

import pytest

from aekit.cli import main


def _png_declaring(path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [12000, 50000])
def test_send_refuses_a_huge_png_in_one_line(codec_dir, tmp_path, capsys, side):
    _png_declaring(tmp_path / "huge.png", side, side)
    args = ["send", "--server", "http://127.0.0.1:1", "--model", str(codec_dir), str(tmp_path / "huge.png")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    assert "huge.png" in err and "limit" in err, err
