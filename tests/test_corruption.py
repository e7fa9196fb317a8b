import json
import re

import pytest
import torch

from aekit import corruption
from aekit.corruption import Gaussian, Masking, SaltAndPepper
from aekit.errors import DataError


@pytest.fixture
def x():
    return torch.rand(400, 250) * 0.8 + 0.1  # strictly inside (0, 1): no value is 0 or 1 by chance


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
    assert abs((out[hit] == 1).float().mean().item() - 0.5) < 0.05  # salt and pepper equally likely


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


@pytest.mark.parametrize(
    "spec, cls",
    [
        ("masking:0.25", Masking),
        ("gaussian:0.5", Gaussian),
        ("saltpepper:0.1", SaltAndPepper),
        ("gaussian:0.2:noclip", Gaussian),
    ],
)
def test_parse_and_config_round_trip(spec, cls):
    q = corruption.parse(spec)
    assert isinstance(q, cls)
    assert corruption.parse(q.spec()).to_config() == q.to_config()
    assert corruption.from_config(q.to_config()).to_config() == q.to_config()


@pytest.mark.parametrize(
    "bad", ["masking:1.5", "masking:-0.1", "blur:0.2", "gaussian:x", "", "masking:0.1:0.2"]
)
def test_bad_specs_raise_value_error_naming_the_input(bad):
    with pytest.raises(ValueError) as err:
        corruption.parse(bad)
    assert "corruption" in str(err.value) or "nu" in str(err.value)


# ---------------------------------------------------------------- value ranges
@pytest.fixture
def codes():
    return torch.rand(400, 250) * 1.8 - 0.9  # tanh-like codes strictly inside (-1, 1)


def test_salt_and_pepper_uses_the_minimum_and_maximum_of_the_range(codes):
    out = SaltAndPepper(0.2, value_range=(-1, 1))(codes)
    hit = out != codes
    assert abs(hit.float().mean().item() - 0.2) < 0.01
    assert set(out[hit].unique().tolist()) == {-1.0, 1.0}  # pepper = min, salt = max (not 0 and 1)


def test_gaussian_clips_to_its_range_or_not_at_all(codes):
    out = Gaussian(0.5, value_range=(-1, 1))(codes)
    assert out.min() == -1 and out.max() == 1 and (out < 0).float().mean() > 0.4  # the sign survives
    relu = Gaussian(0.5, value_range=(0, None))(codes.abs())
    assert relu.min() == 0 and relu.max() > 1.5
    free = Gaussian(0.5, value_range=(None, None))
    torch.manual_seed(1)
    a = free(codes)
    torch.manual_seed(1)
    assert torch.equal(a, Gaussian(0.5, clip=False)(codes))


def test_the_default_range_is_the_unit_interval(x):
    for q in (Gaussian(0.3), SaltAndPepper(0.3)):
        torch.manual_seed(2)
        a = q(x)
        torch.manual_seed(2)
        assert torch.equal(a, q.with_range(0, 1)(x)) and q.with_range(0, 1).to_config() == q.to_config()
    assert Masking(0.3).with_range(-1, 1).to_config() == {"type": "masking", "nu": 0.3}  # masking sets 0


@pytest.mark.parametrize(
    "spec, value_range",
    [
        ("saltpepper:0.1:-1..1", (-1.0, 1.0)),
        ("gaussian:0.5:0..", (0.0, None)),
        ("gaussian:0.5:..", (None, None)),
        ("gaussian:0.5:-1..1:noclip", (-1.0, 1.0)),
    ],
)
def test_a_range_round_trips_through_spec_and_config(spec, value_range):
    q = corruption.parse(spec)
    assert q.value_range == value_range and q.spec() == spec
    assert corruption.from_config(json.loads(json.dumps(q.to_config()))).to_config() == q.to_config()
    assert corruption.parse("saltpepper:0.1").with_range(-1, 1).spec() == "saltpepper:0.1:-1..1"


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SaltAndPepper(0.1, value_range=(0, None)), "both bounds"),
        (lambda: Gaussian(0.1, value_range=(1, 0)), "low < high"),
        (lambda: Gaussian(0.1, value_range=(0, float("inf"))), "finite"),
        (lambda: SaltAndPepper(0.1, value_range=5), "pair"),
        (lambda: corruption.parse("saltpepper:0.1:0.."), "both bounds"),
    ],
)
def test_bad_ranges_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_inputs_outside_the_range_are_a_data_error(codes):
    with pytest.raises(DataError, match=r"X has values in \[-0.8.*'gaussian:0.5' takes inputs in \[0, 1\]"):
        Gaussian(0.5).check_input(codes)
    Gaussian(0.5, value_range=(-1, 1)).check_input(codes)
    Gaussian(0.5, clip=False).check_input(codes)  # noise that does not clip takes any value
    Masking(0.5).check_input(codes)
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        SaltAndPepper(0.1, value_range=(-1, 1)).check_input(codes * 2)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("masking", "'masking' needs its ν, e.g. masking:0.25"),
        ("gaussian:", "'gaussian:' needs its σ, e.g. gaussian:0.5"),
        ("sp", "'sp' needs its ν, e.g. saltpepper:0.1"),
        ("masking::0.2", "'masking::0.2' needs its ν, e.g. masking:0.25"),
        ("gaussian:0.5::noclip", "'gaussian:0.5::noclip' has an empty field between ':'"),
    ],
)
def test_a_spec_without_its_number_is_refused(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        corruption.parse(spec)
