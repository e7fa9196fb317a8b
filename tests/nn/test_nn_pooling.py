"""Un-pooling: the approximate inverses of max-pooling (Masci et al. 2011)."""

import pytest
import torch
import torch.nn.functional as F

from aekit.nn import unpool
from aekit.nn.pooling import max_pool


@pytest.fixture
def pooled():
    torch.manual_seed(0)
    return torch.rand(2, 3, 4, 5) + 0.1  # strictly positive: a zero would hide a misplaced value


@pytest.mark.parametrize("k", [2, 3])
def test_random_puts_the_value_at_exactly_one_position_per_window(pooled, k):
    up = unpool(pooled, k, mode="random")
    assert up.shape == (2, 3, 4 * k, 5 * k)
    windows = up.unfold(2, k, k).unfold(3, k, k)  # (N, C, h, w, k, k)
    assert torch.equal((windows != 0).sum((-1, -2)), torch.ones_like(pooled, dtype=torch.long))
    assert torch.allclose(windows.sum((-1, -2)), pooled)
    assert torch.allclose(windows.amax((-1, -2)), pooled)


def test_random_positions_vary_and_follow_the_generator(pooled):
    a = unpool(pooled, 2, mode="random", generator=torch.Generator().manual_seed(1))
    b = unpool(pooled, 2, mode="random", generator=torch.Generator().manual_seed(1))
    c = unpool(pooled, 2, mode="random", generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # every one of the 4 positions is used somewhere
    positions = (a.unfold(2, 2, 2).unfold(3, 2, 2) != 0).flatten(-2).float().sum((0, 1, 2, 3))
    assert (positions > 0).all()


@pytest.mark.parametrize("k", [2, 3])
def test_spread_gives_every_position_the_same_share(pooled, k):
    windows = unpool(pooled, k, mode="spread").unfold(2, k, k).unfold(3, k, k)
    assert torch.allclose(windows, (pooled / k**2)[..., None, None].expand_as(windows))
    assert torch.allclose(windows.sum((-1, -2)), pooled)


def test_upsample_copies_the_value_everywhere(pooled):
    up = unpool(pooled, 2, mode="upsample")
    assert torch.equal(up, F.interpolate(pooled, scale_factor=2, mode="nearest"))


@pytest.mark.parametrize("size", [(8, 10), (9, 11)])
def test_switches_restore_the_maxima(size):
    torch.manual_seed(0)
    x = torch.rand(2, 3, *size) + 0.1  # positive: the zeros around a maximum stay below it
    pooled, idx = max_pool(x, 2, return_indices=True)
    up = unpool(pooled, 2, mode="switches", indices=idx, output_size=size)
    assert up.shape == x.shape
    assert torch.equal(max_pool(up, 2), pooled)  # max-pooling the result gives back the input
    assert torch.equal(up[up != 0], x[up != 0])  # values sit where the maxima were


def test_output_size_pads_odd_sides_with_zeros(pooled):
    up = unpool(pooled, 2, mode="upsample", output_size=(9, 11))
    assert up.shape == (2, 3, 9, 11)
    assert up[..., 8, :].abs().sum() == 0 and up[..., :, 10].abs().sum() == 0


def test_errors_name_the_problem(pooled):
    with pytest.raises(ValueError, match="unpool mode"):
        unpool(pooled, 2, mode="nearest")
    with pytest.raises(ValueError, match="needs the indices"):
        unpool(pooled, 2, mode="switches")
    with pytest.raises(ValueError, match="output_size"):
        unpool(pooled, 2, output_size=(20, 20))
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        unpool(pooled[0], 2)
