"""The hyperprior codecs shipped with aekit: listed, loaded, a tiny photo above its floor, chosen on the CLI."""

import numpy as np
import pytest
from PIL import Image
from test_photo_shipped import psnr, tiny_photo  # the same tiny photo and PSNR as the factorized floors

from aekit.cli import main
from aekit.codec import pretrained
from aekit.codec.hyperprior import HyperpriorCodec

# PSNR (dB) each shipped hyperprior codec reaches on tiny_photo(), recorded when the weights were shipped, less 0.5 dB
PSNR_FLOOR = {
    "hyperprior-q1": 23.1,
    "hyperprior-q2": 22.9,
    "hyperprior-q3": 24.3,
}  # measured 23.66, 23.46, 24.80


def shipped() -> list[dict]:
    return [e for e in pretrained.models() if pretrained.family(e) == "hyperprior"]


def test_three_hyperprior_rate_points_are_shipped_and_listed(capsys):
    entries = shipped()
    assert [e["name"] for e in entries] == ["hyperprior-q1", "hyperprior-q2", "hyperprior-q3"]
    assert [e["lmbda"] for e in entries] == sorted(e["lmbda"] for e in entries)
    assert main(["codec", "models"]) == 0
    out = capsys.readouterr().out
    assert all(e["model_id"] in out for e in entries) and "hyperprior" in out


@pytest.mark.parametrize("name", list(PSNR_FLOOR))
def test_each_shipped_hyperprior_codec_round_trips_a_tiny_photo_above_its_floor(name):
    quality = int(name[-1])
    codec = HyperpriorCodec.load(pretrained.model_dir(quality, "hyperprior"))
    assert codec.updated and codec.model_id.hex() == next(
        e["model_id"] for e in shipped() if e["name"] == name
    )
    image = tiny_photo()
    data = codec.compress(image)
    assert data[:2] == b"\xae\x04"
    out = codec.decompress(data)
    assert out.shape == image.shape and psnr(out, image) > PSNR_FLOOR[name]


@pytest.mark.parametrize("name", list(PSNR_FLOOR))
def test_each_shipped_h_s_runs_in_float64_blas_and_gives_the_int64_indices(name):
    from aekit.codec import files

    directory = pretrained.ROOT / name
    net = files.read_integer_net(files.encoder_file(directory, files.read(directory), "hyper_synthesis"))
    assert all(net.blas) and max(net.bounds) < 1 << 53  # every layer takes the fast path
    z = np.random.default_rng(0).integers(-net.input_max, net.input_max + 1, (1, net.in_channels, 12, 8))
    indices = net(z)  # a Kodak photo's ẑ size (768×512 -> 12×8), every value the tables allow
    assert len(np.unique(indices)) > 5 and np.array_equal(indices, net(z, blas=False))


def test_cli_picks_the_family_and_decodes_whatever_the_model(tmp_path):
    Image.fromarray(tiny_photo()).save(tmp_path / "p.png")
    for family, version in (("hyperprior", 4), ("factorized", 3)):
        stream, back = tmp_path / f"{family}.aek", tmp_path / f"{family}.png"
        args = ["-q", "codec", "compress", str(tmp_path / "p.png"), "--model", family, "--quality", "1"]
        assert main([*args, "--out", str(stream)]) == 0
        assert stream.read_bytes()[:2] == bytes([0xAE, version])
        assert main(["-q", "codec", "decompress", str(stream), "--out", str(back)]) == 0  # no --model
        assert np.asarray(Image.open(back)).shape == (40, 56, 3)
