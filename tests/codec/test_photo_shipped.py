"""The photo codecs shipped with aekit, the photo CLI and the service's photo route."""

import io
import math
import struct
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from aekit.cli import main
from aekit.codec import create_app, pretrained
from aekit.codec.photo import PhotoCodec

OCTET = {"Content-Type": "application/octet-stream"}

# PSNR (dB) each shipped codec reaches on tiny_photo(), recorded when the weights were shipped, less 0.5 dB
PSNR_FLOOR = {"q1": 22.4, "q2": 21.1, "q3": 21.9}  # measured 22.97, 21.61, 22.49


def tiny_photo() -> np.ndarray:
    """A 40×56 colour photo: smooth gradients, a disc and mild texture (seeded)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:40, 0:56] / 56.0
    base = np.stack([0.3 + 0.5 * xx, 0.6 - 0.3 * yy, 0.4 + 0.2 * np.sin(6 * xx)], -1)
    base[(yy - 0.35) ** 2 + (xx - 0.5) ** 2 < 0.04] = (0.9, 0.8, 0.2)
    return np.clip(np.rint(255 * base + rng.normal(0, 3, base.shape)), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2))


def test_three_rate_points_are_shipped_and_listed(capsys):
    entries = [e for e in pretrained.models() if pretrained.family(e) == "factorized"]
    assert [e["name"] for e in entries] == ["q1", "q2", "q3"]
    assert [e["lmbda"] for e in entries] == sorted(e["lmbda"] for e in entries)
    assert main(["codec", "models"]) == 0
    out = capsys.readouterr().out
    assert all(e["model_id"] in out for e in entries) and "BSDS500" in out


@pytest.mark.parametrize("name", ["q1", "q2", "q3"])
def test_each_shipped_codec_round_trips_a_tiny_photo_above_its_floor(name):
    codec = PhotoCodec.load(pretrained.model_dir(name))
    assert codec.updated and codec.model_id.hex() == next(
        e["model_id"] for e in pretrained.models() if e["name"] == name
    )
    image = tiny_photo()
    out = codec.decompress(codec.compress(image))
    assert out.shape == image.shape
    assert psnr(out, image) > PSNR_FLOOR[name]


def test_cli_compress_decompress_a_photo_without_training(tmp_path):
    Image.fromarray(tiny_photo()).save(tmp_path / "p.jpg", quality=95)
    stream, back = tmp_path / "p.aek", tmp_path / "back.png"
    assert (
        main(["-q", "codec", "compress", str(tmp_path / "p.jpg"), "--quality", "2", "--out", str(stream)])
        == 0
    )
    assert stream.read_bytes()[:2] == b"\xae\x03"
    assert main(["-q", "codec", "decompress", str(stream), "--out", str(back)]) == 0
    assert np.asarray(Image.open(back)).shape == (40, 56, 3)


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_cli_refuses_bad_photos_in_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not an image")
    Image.fromarray(tiny_photo()).save(tmp_path / "p.jpg", quality=95)
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "p.jpg").read_bytes()[:300])
    (tmp_path / "huge.png").write_bytes(_png_declaring(100000, 100000))
    for name, message in (
        ("notes.txt", "not an image"),
        ("cut.jpg", "truncated"),
        ("huge.png", "larger than"),
    ):
        code = main(
            [
                "-q",
                "codec",
                "compress",
                str(tmp_path / name),
                "--quality",
                "1",
                "--out",
                str(tmp_path / "o.aek"),
            ]
        )
        err = capsys.readouterr().err
        assert code != 0 and message in err and "Traceback" not in err
        assert not (tmp_path / "o.aek").exists()


@pytest.fixture(scope="module")
def client():
    dirs = [pretrained.ROOT / e["name"] for e in pretrained.models() if pretrained.family(e) == "factorized"]
    with TestClient(create_app(dirs, max_output=200_000)) as c:
        yield c


def test_service_decodes_a_photo_stream_to_png(client):
    codec = PhotoCodec.load(pretrained.model_dir(1))
    data = codec.compress(tiny_photo())
    r = client.post("/v1/decode", content=data, headers=OCTET)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.content))), codec.decompress(data))
    kinds = [m["kind"] for m in client.get("/v1/models").json()]
    assert kinds == ["photo"] * 3


def test_service_bounds_the_photo_before_decoding_and_refuses_damage(client):
    codec = PhotoCodec.load(pretrained.model_dir(1))
    big = codec.compress(np.zeros((300, 300, 3), np.uint8))  # 270 000 bytes of pixels > 200 000
    r = client.post("/v1/decode", content=big, headers=OCTET)
    assert r.status_code == 413 and "300×300" in r.json()["detail"]
    data = bytearray(codec.compress(tiny_photo()))
    data[-6] ^= 0xFF
    assert client.post("/v1/decode", content=bytes(data), headers=OCTET).status_code == 400
    assert client.get("/healthz").json()["models"] == 3


def test_service_reserves_a_photos_decoding_memory(client):
    """A photo reserves pixels × its measured bytes per pixel: 413 above the whole budget, and the
    reservation is given back after the answer."""
    service = client.app.state.service
    codec = PhotoCodec.load(pretrained.model_dir(1))
    data = codec.compress(tiny_photo())
    h, w = tiny_photo().shape[:2]
    need = math.ceil(h * w * service.work_of(codec.model_id))
    assert len(data) < need
    budget = service.admission.budget
    service.admission.budget = need - 1  # the body fits, its decoding alone does not
    try:
        r = client.post("/v1/decode", content=data, headers=OCTET)
    finally:
        service.admission.budget = budget
    assert r.status_code == 413 and "memory budget" in r.json()["detail"]
    assert client.post("/v1/decode", content=data, headers=OCTET).status_code == 200
    assert service.admission.used == 0


def test_readme_photo_example_runs():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Photos", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})


def test_cli_trains_a_conv_codec_and_resumes(tmp_path, one_thread, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(tiny_photo(), 7 * i, axis=1)).save(photos / f"p{i}.png")
    common = [
        "-q",
        "codec",
        "train",
        "--model",
        "conv",
        "--data",
        str(photos),
        "--crop",
        "32",
        "--batch-size",
        "2",
    ]
    common += ["--N", "8", "--M", "8", "--lmbda", "0.01", "--out", str(tmp_path / "run")]
    assert main([*common, "--steps", "2"]) == 0
    assert main([*common, "--steps", "4", "--resume"]) == 0
    assert "to step 4" in capsys.readouterr().out
    codec = PhotoCodec.load(tmp_path / "run" / "export")
    assert codec.lmbda == 0.01 and codec.N == 8 and codec.updated
    assert (tmp_path / "run" / "export" / "encoder.onnx").is_file()
    assert main([*common, "--steps", "4"]) != 0  # a run is there: --resume or --overwrite


@pytest.mark.slow
def test_torchrun_trains_a_conv_codec_on_two_cpu_ranks(tmp_path, free_port):
    import os
    import subprocess
    import sys
    from pathlib import Path

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(tiny_photo(), 5 * i, axis=0)).save(photos / f"p{i}.png")
    port = free_port()
    src = Path(__file__).resolve().parents[2] / "src"
    env = dict(
        os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", CUDA_VISIBLE_DEVICES=""
    )
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    cmd += ["--master-addr", "127.0.0.1", "--master-port", str(port), "-m", "aekit", "-q", "codec", "train"]
    cmd += ["--model", "conv", "--data", str(photos), "--crop", "32", "--batch-size", "4", "--steps", "3"]
    cmd += ["--N", "8", "--M", "8", "--out", str(tmp_path / "run")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained photo codec") == 1  # rank 0 alone reports
    assert PhotoCodec.load(tmp_path / "run" / "export").updated
