import numpy as np
import pytest
import torch

from aekit import corruption
from aekit.corruption import Gaussian, Masking, SaltAndPepper


@pytest.fixture
def x():
    return torch.rand(400, 250) * 0.8 + 0.1   # strictly inside (0, 1): no value is 0 or 1 by chance


@pytest.mark.parametrize("nu", [0.1, 0.25, 0.5])
def test_masking_sets_fraction_nu_to_zero_and_keeps_the_rest(x, nu):
    out = Masking(nu)(x)
    zeroed = out == 0
    assert abs(zeroed.float().mean().item() - nu) < 0.01
    assert torch.equal(out[~zeroed], x[~zeroed])


@pytest.mark.parametrize("nu", [0.05, 0.2])
def test_salt_and_pepper_values_and_fraction(x, nu):
    out = SaltAndPepper(nu)(x)
    hit = out != x
    assert abs(hit.float().mean().item() - nu) < 0.01
    assert set(out[hit].unique().tolist()) <= {0.0, 1.0}
    assert abs((out[hit] == 1).float().mean().item() - 0.5) < 0.05     # salt and pepper equally likely


@pytest.mark.parametrize("sigma", [0.1, 0.5])
def test_gaussian_noise_std_without_clip(sigma):
    x = torch.full((200, 500), 0.5)
    out = Gaussian(sigma, clip=False)(x)
    assert abs((out - x).std().item() - sigma) < 0.01 * sigma + 1e-3
    assert abs((out - x).mean().item()) < 0.01


def test_gaussian_clip_keeps_unit_interval(x):
    out = Gaussian(0.8)(x)
    assert out.min() >= 0 and out.max() <= 1
    assert (out == 0).any() and (out == 1).any()


@pytest.mark.parametrize("q", [Masking(0.3), Gaussian(0.3), SaltAndPepper(0.3)])
def test_fresh_noise_every_call_and_input_untouched(x, q):
    before = x.clone()
    a, b = q(x), q(x)
    assert not torch.equal(a, b)
    assert torch.equal(x, before)
    assert a.shape == x.shape and a.dtype == x.dtype


@pytest.mark.parametrize("spec, cls", [("masking:0.25", Masking), ("gaussian:0.5", Gaussian),
                                       ("saltpepper:0.1", SaltAndPepper), ("gaussian:0.2:noclip", Gaussian)])
def test_parse_and_config_round_trip(spec, cls):
    q = corruption.parse(spec)
    assert isinstance(q, cls)
    assert corruption.parse(q.spec()).to_config() == q.to_config()
    assert corruption.from_config(q.to_config()).to_config() == q.to_config()


@pytest.mark.parametrize("bad", ["masking:1.5", "masking:-0.1", "blur:0.2", "gaussian:x", "", "masking:0.1:0.2"])
def test_bad_specs_raise_value_error_naming_the_input(bad):
    with pytest.raises(ValueError) as err:
        corruption.parse(bad)
    assert "corruption" in str(err.value) or "nu" in str(err.value)
