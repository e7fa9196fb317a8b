"""What the two photo codecs share lives once, in ConvPhotoCodec: the same checks, settings, loss and files."""

import json

import pytest
import torch

from aekit.codec import HyperpriorCodec, PhotoCodec
from aekit.codec.photo_base import ConvPhotoCodec
from aekit.errors import CheckpointError

COMMON = ("channels", "N", "M", "lmbda", "quantizer", "components", "precision", "tail_mass", "table_width")
CLASSES = [PhotoCodec, HyperpriorCodec]


@pytest.mark.parametrize("cls", CLASSES)
def test_both_codecs_check_and_record_the_common_settings_alike(cls):
    codec = cls(1, 8, 12, lmbda=0.01, quantizer="noise", components=2, precision=14, tail_mass=1e-5)
    assert isinstance(codec, ConvPhotoCodec) and codec.unit_interval
    assert (codec.channels, codec.N, codec.M, codec.lmbda, codec.quantizer) == (1, 8, 12, 0.01, "noise")
    assert codec.input_shape == (1, None, None)
    assert {k: codec.config[k] for k in COMMON} == dict(
        channels=1, N=8, M=12, lmbda=0.01, quantizer="noise", components=2, precision=14, tail_mass=1e-5,
        table_width=0,
    )  # fmt: skip
    # the factorized model codes y (M channels) in PhotoCodec, z (N channels) in the hyperprior
    assert len(codec.entropy_bottleneck.table_lengths) == (12 if cls is PhotoCodec else 8)
    for bad, word in (
        (dict(lmbda=-1.0), "-1"),
        (dict(quantizer="round"), "round"),
        (dict(table_width=-3), "-3"),
    ):
        with pytest.raises(ValueError, match=word):
            cls(3, 8, 8, **bad)


@pytest.mark.parametrize("cls", CLASSES)
def test_both_losses_are_lambda_mse_plus_bpp(cls):
    torch.manual_seed(0)
    codec = cls(3, 8, 8, lmbda=0.02).eval()
    x = torch.rand(2, 3, 32, 32)
    mse, bpp = codec.rate_distortion(x)
    assert codec.loss(x).item() == pytest.approx((0.02 * 255**2 * mse + bpp).item())
    assert codec(x).shape == x.shape


def test_each_class_loads_its_own_checkpoints_only(tmp_path):
    saved = {cls: cls(3, 8, 8).update().save(tmp_path / cls.__name__) for cls in CLASSES}
    for cls, path in saved.items():
        assert type(cls.load(path)) is cls
        other = next(c for c in CLASSES if c is not cls)
        with pytest.raises(CheckpointError, match=f"holds a '{cls.__name__}', not a {other.__name__}"):
            other.load(path)
    config = json.loads((saved[PhotoCodec] / "config.json").read_text())
    config["args"]["N"] = 0
    (saved[PhotoCodec] / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="N"):
        PhotoCodec.load(saved[PhotoCodec])
