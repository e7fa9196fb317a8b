"""The integer h_s in float64 BLAS products: bit for bit the int64 result, up to the 2^53 bound and not beyond.

Networks are built right at the bound (weights whose Σ|w|·U + |b| equals B exactly, inputs that
make an accumulator reach ±B), on odd sizes, and compared with the int64 products; a layer just
above 2^53 shows that float64 would be wrong there and that the network runs it in int64.
"""

import numpy as np
import pytest

from aekit.codec.intnet import (
    FLOAT_EXACT,
    U_MAX,
    IntegerLayer,
    IntegerNet,
    _conv,
    _conv_transposed,
    layer_bounds,
)

SIZES = [(1, 1), (3, 5), (7, 2)]


def _phase_mask(k: int, transposed: bool) -> np.ndarray:
    """The taps one output sees: all k×k for a convolution; for a stride-2 transposed one, a
    phase's taps (ky − k//2 even), so that one output can reach the bound."""
    if not transposed:
        return np.ones((k, k), bool)
    even = (np.arange(k) - k // 2) % 2 == 0
    return even[:, None] & even[None, :]


def _at_bound(o, c, k, u_max, bound, transposed, rng):
    """Weights (O, C, k, k) and biases with Σ|w|·u_max + |b| = bound exactly for every output channel.

    Channel 0 has weights ≥ 0 and a bias ≥ 0 (reaches +bound for inputs +u_max), channel 1 is its
    negative (reaches −bound), the others have random signs. The mass sits on the taps of
    :func:`_phase_mask`, odd magnitudes included.
    """
    mask = _phase_mask(k, transposed)
    n = c * int(mask.sum())
    total = bound // u_max
    w = np.zeros((o, c, k, k), np.int64)
    b = np.zeros(o, np.int64)
    for ch in range(o):
        cuts = np.sort(rng.integers(0, total + 1, n - 1))
        parts = np.diff(np.concatenate([[0], cuts, [total]]))  # n parts ≥ 0 summing to total
        signs = 1 if ch == 0 else -1 if ch == 1 else rng.choice([-1, 1], n)
        w[ch][:, mask] = (signs * parts).reshape(c, -1)
        b[ch] = (1 if ch != 1 else -1) * (bound - total * u_max)
    return w, b


def _accumulators(u, w, b, transposed, blas):
    conv = _conv_transposed if transposed else _conv
    return conv(u, w, blas) + b[None, :, None, None]


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("size", SIZES)
def test_float64_products_equal_int64_right_at_the_bound(transposed, k, size):
    rng = np.random.default_rng([k, size[0], transposed])
    bound, u_max = FLOAT_EXACT - 1, 999
    w, b = _at_bound(5, 3, k, u_max, bound, transposed, rng)
    layer = IntegerLayer(w, b, 40, transposed, True)
    assert layer_bounds([layer], u_max) == [bound]
    for u in (
        np.full((2, 3, *size), u_max, np.int64),
        rng.integers(-u_max, u_max + 1, (2, 3, *size)),
    ):
        exact = _accumulators(u, w, b, transposed, blas=False)
        assert np.array_equal(_accumulators(u, w, b, transposed, blas=True), exact)
    if min(size) >= k:  # an output that sees every tap: the bound itself is reached, on both sides
        assert int(exact.max()) <= bound
        full = _accumulators(np.full((1, 3, *size), u_max, np.int64), w, b, transposed, blas=True)
        assert int(full[0, 0].max()) == bound and int(full[0, 1].min()) == -bound


@pytest.mark.parametrize("size", SIZES + [(4, 6)])
def test_a_network_at_the_bound_gives_the_int64_indices(size):
    rng = np.random.default_rng(size[0] * 10 + size[1])
    bound, z_max, c = FLOAT_EXACT - 1, 77, 3
    layers = []
    for i, (k, transposed, u_max) in enumerate(((5, True, z_max), (5, True, U_MAX), (3, False, U_MAX))):
        w, b = _at_bound(c if i < 2 else 5, c, k, u_max, bound, transposed, rng)
        layers.append(IntegerLayer(w, b, 39 if i < 2 else 40, transposed, i < 2))
    net = IntegerNet(layers, 63, z_max)
    assert net.bounds == [bound] * 3 and net.blas == (True, True, True)
    for z in (np.full((1, c, *size), z_max, np.int64), rng.integers(-z_max, z_max + 1, (2, c, *size))):
        fast, reference = net(z), net(z, blas=False)
        assert fast.dtype == np.int64 and np.array_equal(fast, reference)
    assert len(np.unique(net(rng.integers(-z_max, z_max + 1, (2, c, 4, 6))))) > 3  # not all clipped


@pytest.mark.parametrize("seed", range(6))
def test_random_networks_of_odd_shapes_give_the_int64_indices(seed):
    rng = np.random.default_rng(seed)
    channels = [int(rng.integers(1, 14)) for _ in range(4)]
    z_max = int(rng.integers(1, 200))
    layers = []
    for i in range(3):
        k = int(rng.choice([1, 3, 5, 7]))
        scale = int(rng.integers(1, 1 << int(rng.integers(4, 20))))
        w = rng.integers(-scale, scale + 1, (channels[i + 1], channels[i], k, k))
        b = rng.integers(-scale * 100, scale * 100 + 1, channels[i + 1])
        layers.append(IntegerLayer(w, b, int(rng.integers(1, 30)), bool(rng.integers(2)), i < 2))
    net = IntegerNet(layers, 63, z_max)
    assert all(net.blas)
    z = rng.integers(
        -z_max, z_max + 1, (int(rng.integers(1, 3)), channels[0], *map(int, rng.integers(1, 9, 2)))
    )
    assert np.array_equal(net(z), net(z, blas=False))


def test_a_layer_beyond_2_53_runs_in_int64_where_float64_would_be_wrong():
    rng = np.random.default_rng(0)
    u_max = 999
    total = FLOAT_EXACT // u_max + 1
    total += 1 - total % 2  # odd: Σ|w|·u_max = total·999 is an odd integer above 2^53, not a double
    bound = total * u_max
    w, b = _at_bound(2, 3, 3, u_max, bound, False, rng)
    net = IntegerNet([IntegerLayer(w, b, 40, False, True)], 63, u_max)
    assert net.bounds == [bound] and net.blas == (False,) and not b.any()
    u = np.full((1, 3, 3, 3), u_max, np.int64)
    exact = _accumulators(u, w, b, False, blas=False)
    assert int(exact[0, 0, 1, 1]) == bound
    assert not np.array_equal(_accumulators(u, w, b, False, blas=True), exact)  # float64 rounds it
    big = np.full((1, 3, 3, 3), u_max, np.int64)
    assert np.array_equal(net(big), net(big, blas=False))


def test_weights_beyond_2_53_with_a_zero_input_range_run_in_int64():
    w = np.full((1, 1, 1, 1), FLOAT_EXACT + 1, np.int64)  # not a double; bounds nothing times 0
    net = IntegerNet([IntegerLayer(w, np.zeros(1, np.int64), 1, False, False)], 63, 0)
    assert net.bounds == [0] and net.blas == (False,)
    assert np.array_equal(net(np.zeros((1, 1, 2, 2), np.int64)), np.zeros((1, 1, 2, 2), np.int64))


def test_blas_thread_count_does_not_change_the_indices():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(1)
    bound, z_max, c = FLOAT_EXACT - 1, 9, 32
    layers = []
    for i, (k, transposed, u_max) in enumerate(((5, True, z_max), (5, True, U_MAX), (3, False, U_MAX))):
        w, b = _at_bound(c, c, k, u_max, bound, transposed, rng)
        layers.append(IntegerLayer(w, b, 39 if i < 2 else 47, transposed, i < 2))
    net = IntegerNet(layers, 63, z_max)
    z = rng.integers(-z_max, z_max + 1, (1, c, 9, 11))
    results = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            results.append(net(z))
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], net(z, blas=False))


@pytest.mark.parametrize("threads", [1, 2])
def test_openblas_mkl_and_python_integers_agree_on_products_at_the_bound(threads):
    """The argument is about any IEEE BLAS: NumPy's (OpenBLAS) and torch's (MKL) dgemm give the exact
    integer products of matrices whose every column reaches Σ|w|·U = 2^53 − 1."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(threads)
    u_max, k, o = 32767, 9 * 64, 96  # h_s's last layer: 3×3 taps × 64 channels -> 96
    w, _ = _at_bound(o, k, 1, u_max, (FLOAT_EXACT - 1) // u_max * u_max, False, rng)
    w = w.reshape(o, k).T  # (K, O): column sums of |w|·U up to 2^53 − 1
    u = np.vstack([np.full((1, k), u_max), np.sign(w[:, 2:3].T) * u_max, rng.integers(0, u_max + 1, (13, k))])
    exact = (u.astype(object) @ w.astype(object)).astype(np.int64)  # Python integers
    assert int(exact[0, 0]) == (FLOAT_EXACT - 1) // u_max * u_max and int(exact[1, 2]) == int(exact[0, 0])
    openblas = np.rint(u.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        mkl = torch.from_numpy(u.astype(np.float64)) @ torch.from_numpy(w.astype(np.float64))
    finally:
        torch.set_num_threads(previous)
    assert np.array_equal(openblas, exact) and np.array_equal(mkl.round().long().numpy(), exact)
