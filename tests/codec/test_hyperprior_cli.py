"""The hyperprior codec in the CLI (`codec compress --model DIR|hyperprior`, `codec decompress`) and the service."""

import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from aekit.cli import main
from aekit.codec import create_app
from aekit.codec.hyperprior import HyperpriorCodec
from aekit.codec.photo import PhotoCodec

OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def hyper_dir(tmp_path_factory):
    torch.manual_seed(0)
    codec = HyperpriorCodec(3, N=8, M=12).update().eval()
    return codec.save(tmp_path_factory.mktemp("hyper") / "codec", export=True)


def photo():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (21, 30, 3), dtype=np.uint8)


def test_cli_compresses_and_decompresses_with_a_hyperprior_directory(hyper_dir, tmp_path):
    Image.fromarray(photo()).save(tmp_path / "p.png")
    stream, back = tmp_path / "p.aek", tmp_path / "back.png"
    args = [
        "-q",
        "codec",
        "compress",
        str(tmp_path / "p.png"),
        "--model",
        str(hyper_dir),
        "--out",
        str(stream),
    ]
    assert main(args) == 0
    assert stream.read_bytes()[:2] == b"\xae\x04"
    assert (
        main(["-q", "codec", "decompress", str(stream), "--model", str(hyper_dir), "--out", str(back)]) == 0
    )
    expected = HyperpriorCodec.load(hyper_dir).decompress(stream.read_bytes())
    assert np.array_equal(np.asarray(Image.open(back)), expected)


def test_cli_refuses_a_quality_with_a_directory_and_an_unknown_model_in_one_line(hyper_dir, tmp_path, capsys):
    Image.fromarray(photo()).save(tmp_path / "p.png")
    out = str(tmp_path / "o.aek")
    for model, extra, message in (
        (str(hyper_dir), ["--quality", "1"], "--quality"),
        ("nosuchfamily", [], "no such photo codec directory"),
    ):
        code = main(
            ["-q", "codec", "compress", str(tmp_path / "p.png"), "--model", model, *extra, "--out", out]
        )
        err = capsys.readouterr().err
        assert code != 0 and message in err and "Traceback" not in err


def test_service_decodes_hyperprior_and_factorized_streams_by_model_id(hyper_dir):
    torch.manual_seed(1)
    factorized = PhotoCodec(3, 8, 12).update().eval()
    hyper = HyperpriorCodec.load(hyper_dir)
    with TestClient(create_app([hyper_dir, factorized], max_output=100_000)) as client:
        kinds = sorted(m["kind"] for m in client.get("/v1/models").json())
        assert kinds == ["hyperprior", "photo"]
        for codec in (hyper, factorized):
            data = codec.compress(photo())
            r = client.post("/v1/decode", content=data, headers=OCTET)
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.content))), codec.decompress(data))
        bad = bytearray(hyper.compress(photo()))
        bad[-6] ^= 0xFF
        assert client.post("/v1/decode", content=bytes(bad), headers=OCTET).status_code == 400
        big = hyper.compress(np.zeros((200, 300, 3), np.uint8))  # 180 000 bytes of pixels decoded > 100 000
        r = client.post("/v1/decode", content=big, headers=OCTET)
        assert r.status_code == 413 and "300×200" in r.json()["detail"]
        assert client.get("/healthz").json()["models"] == 2
