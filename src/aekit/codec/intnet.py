"""The integer hyper-synthesis network: decoded hyper-latent ẑ -> scale-table indices, exact integers only.

Ballé, Johnston & Minnen, "Integer networks for data compression with latent-variable models",
ICLR 2019: when the network that computes the entropy model's parameters from the side
information runs in integer arithmetic, the encoder and the decoder compute the very same
parameters on every machine, so the entropy decoder never goes astray. Here each layer l is

    a_l = Σ w_l · u_{l−1} + b_l                         (int64: exact, in any order)
    u_l = clip(⌊(a_l + 2^(s_l − 1)) / 2^(s_l)⌋, 0, U_MAX)   (rounding rescale + quantised ReLU)

with integer weights w_l, biases b_l and shifts s_l; u_0 = ẑ (integers), and the last layer
(no ReLU) is clipped to 0..S−1 instead: its outputs are the indices into the table of S scales
directly. ⌊·/2^s⌋ is an arithmetic right shift. The layers are the scale hyperprior's h_s
(Ballé et al. 2018): two transposed 5×5 convolutions of stride 2, then a 3×3 convolution.

:func:`layer_bounds` bounds every |a_l| by B_l = max over output channels of Σ|w_l|·U_{l−1} + |b_l|
(Python integers, from the weights and the largest input), and :class:`IntegerNet` refuses
weights whose bound reaches 2^62: no int64 overflow is possible, so every operation is exact
and the result cannot depend on the order of the sums (threads, machine, library).

Speed: the sums Σ w·u of a layer whose B_l is below 2^53 run as float64 BLAS matrix products
(dgemm) on the integer-valued arrays. Every product and every partial sum, in any order, is
then an integer of magnitude below 2^53, which IEEE double holds exactly, so each float
operation is exact and the result is the int64 one bit for bit, whatever the BLAS, its thread
count or its order of summation (assuming it multiplies and adds in IEEE double, with or
without FMA, and uses no Strassen-type algorithm). A layer with B_l ≥ 2^53 runs in NumPy's
int64 products instead (exact, but several times slower without BLAS). ``docs/bit-exact.md``
gives the argument. Needs numpy only (no torch): it runs on the device and in the cloud.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "IntegerLayer",
    "IntegerNet",
    "U_MAX",
    "INT_LIMIT",
    "FLOAT_EXACT",
    "accumulator_bound",
    "layer_bounds",
]

U_MAX = (1 << 15) - 1  # largest activation between layers (the quantised ReLU's cap)
INT_LIMIT = 1 << 62  # every accumulator must stay below this in magnitude (int64 holds 2^63 − 1)
FLOAT_EXACT = 1 << 53  # IEEE double holds every integer of magnitude up to 2^53 exactly
MAX_SHIFT = 48
MAX_CHANNELS = 1024
MAX_KERNEL = 7
_BLOCK = 1 << 22  # elements of the window matrix per block of rows (32 MiB in float64)


@dataclass(frozen=True)
class IntegerLayer:
    """One layer: ``weight`` int64 (C_out, C_in, k, k), ``bias`` int64 (C_out,), right ``shift``,
    stride 2 transposed (``transposed``; padding k//2, output padding 1: (h, w) -> (2h, 2w)) or
    stride 1 ((h, w) -> (h, w), padding k//2); ``relu``: clip to 0..U_MAX (else to 0..``top``)."""

    weight: np.ndarray
    bias: np.ndarray
    shift: int
    transposed: bool
    relu: bool


def _check_layer(layer: IntegerLayer, index: int) -> None:
    w, b = layer.weight, layer.bias
    if not (isinstance(w, np.ndarray) and isinstance(b, np.ndarray)):
        raise ValueError(f"layer {index}: weight and bias must be numpy arrays")
    if w.dtype != np.int64 or b.dtype != np.int64:
        raise ValueError(f"layer {index}: weight and bias must be int64, got {w.dtype} and {b.dtype}")
    if w.ndim != 4 or w.shape[2] != w.shape[3] or not 1 <= w.shape[2] <= MAX_KERNEL or w.shape[2] % 2 == 0:
        raise ValueError(
            f"layer {index}: weight must be (C_out, C_in, k, k), k odd <= {MAX_KERNEL}, got {w.shape}"
        )
    if not (1 <= w.shape[0] <= MAX_CHANNELS and 1 <= w.shape[1] <= MAX_CHANNELS) or b.shape != (w.shape[0],):
        raise ValueError(
            f"layer {index}: weight {w.shape} and bias {b.shape} do not fit (C_out <= {MAX_CHANNELS})"
        )
    if not isinstance(layer.shift, int) or not 1 <= layer.shift <= MAX_SHIFT:
        raise ValueError(f"layer {index}: shift must be an int in 1..{MAX_SHIFT}, got {layer.shift!r}")


def layer_bounds(layers: list[IntegerLayer], input_max: int) -> list[int]:
    """B_l = max over output channels of Σ|w_l| · U_{l−1} + |b_l| for each layer l (U_0 = ``input_max``,
    then U_MAX): no accumulator a_l, and no partial sum of its products, can be larger in magnitude.

    Python integers (unbounded), so the bounds themselves cannot overflow.
    """
    u_max, bounds = int(input_max), []
    for layer in layers:
        magnitudes = np.abs(layer.weight.reshape(len(layer.weight), -1).astype(object))  # Python ints: exact
        bounds.append(
            max(int(s) * u_max + abs(int(b)) for s, b in zip(magnitudes.sum(1), layer.bias.tolist()))
        )
        u_max = U_MAX
    return bounds


def accumulator_bound(layers: list[IntegerLayer], input_max: int) -> int:
    """max over layers of :func:`layer_bounds`: no accumulator can be larger."""
    return max(layer_bounds(layers, input_max))


class IntegerNet:
    """Integer layers ẑ (B, C, h, w) int64 -> indices (B, M, 4h, 4w) int64 in 0..``top``.

    Parameters
    ----------
    layers : list of IntegerLayer
        The hyper-synthesis, first to last.
    top : int
        The largest index (S − 1, S scales).
    input_max : int
        The largest |ẑ| the entropy model of z can decode (its tables' range).

    Raises
    ------
    ValueError
        Malformed layers, channels that do not chain, or weights whose accumulators could
        reach 2^62 for inputs up to ``input_max`` (:func:`layer_bounds`).

    Attributes
    ----------
    bounds : list of int
        B_l of each layer (:func:`layer_bounds`); ``bound`` is their maximum.
    blas : tuple of bool
        Whether layer l runs its products in float64 BLAS: B_l < 2^53 and every |w_l| < 2^53, so
        that they are exact (else NumPy int64).
    """

    def __init__(self, layers: list[IntegerLayer], top: int, input_max: int):
        if not layers:
            raise ValueError("an integer network needs one layer at least")
        for i, layer in enumerate(layers):
            _check_layer(layer, i)
            if i and layer.weight.shape[1] != layers[i - 1].weight.shape[0]:
                raise ValueError(
                    f"layer {i} takes {layer.weight.shape[1]} channels, layer {i - 1} gives {layers[i - 1].weight.shape[0]}"
                )
        if not isinstance(top, int) or not 1 <= top < 1 << 16:
            raise ValueError(f"top must be an int in 1..65535, got {top!r}")
        if not isinstance(input_max, int) or not 0 <= input_max <= 1 << 30:
            raise ValueError(f"input_max must be an int in 0..2^30, got {input_max!r}")
        bounds = layer_bounds(layers, input_max)
        if max(bounds) >= INT_LIMIT:
            raise ValueError(f"the integer network could overflow: accumulators up to {max(bounds)} >= 2^62")
        self.layers, self.top, self.input_max = list(layers), top, input_max
        self.bounds, self.bound = bounds, max(bounds)
        self.blas = tuple(
            bound < FLOAT_EXACT and max(-int(layer.weight.min()), int(layer.weight.max())) < FLOAT_EXACT
            for bound, layer in zip(bounds, layers)
        )  # |w| < 2^53 too: an input range of 0 bounds nothing

    @property
    def in_channels(self) -> int:
        return int(self.layers[0].weight.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.layers[-1].weight.shape[0])

    @property
    def upsampling(self) -> int:
        return 1 << sum(layer.transposed for layer in self.layers)

    def __call__(self, z_hat: np.ndarray, *, blas: bool = True) -> np.ndarray:
        """The scale-table indices (B, M, h·2^t, w·2^t) of integer ẑ (B, C, h, w), |ẑ| <= input_max.

        ``blas=False`` runs every layer in NumPy int64 products (the reference; same result, slower).
        """
        u = np.asarray(z_hat)
        if not np.issubdtype(u.dtype, np.integer) or u.ndim != 4 or u.shape[1] != self.in_channels:
            raise ValueError(f"ẑ must be integers (B, {self.in_channels}, h, w), got {u.dtype} {u.shape}")
        u = u.astype(np.int64)
        if u.size and int(np.abs(u).max()) > self.input_max:
            raise ValueError(f"ẑ exceeds ±{self.input_max}, the range the network is bounded for")
        for layer, exact_in_float in zip(self.layers, self.blas):
            conv = _conv_transposed if layer.transposed else _conv
            a = conv(u, layer.weight, blas and exact_in_float)  # Σ w·u, exact either way
            a += layer.bias[None, :, None, None]
            u = np.right_shift(a + (1 << (layer.shift - 1)), layer.shift)  # ⌊(a + 2^(s−1)) / 2^s⌋
            u = np.clip(u, 0, U_MAX if layer.relu else self.top)
        return u

    def state(self) -> dict[str, np.ndarray]:
        """The layers as named integer arrays (for a safetensors file): layer{i}.weight/.bias (int32 when
        every value fits, else int64), layer{i}.meta and net.meta (int64)."""
        out: dict[str, np.ndarray] = {}
        for i, layer in enumerate(self.layers):
            out[f"layer{i}.weight"] = _compact(layer.weight)
            out[f"layer{i}.bias"] = _compact(layer.bias)
            out[f"layer{i}.meta"] = np.array([layer.shift, int(layer.transposed), int(layer.relu)], np.int64)
        out["net.meta"] = np.array([self.top, self.input_max], np.int64)
        return out

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> IntegerNet:
        """Inverse of :meth:`state` (ValueError if it is not a valid integer network)."""
        layers = []
        for i in range(16):
            if f"layer{i}.weight" not in state:
                break
            meta = np.asarray(state[f"layer{i}.meta"])
            if meta.shape != (3,) or meta.dtype != np.int64:
                raise ValueError(f"layer{i}.meta must be 3 int64 values")
            layers.append(
                IntegerLayer(
                    _widen(state[f"layer{i}.weight"], f"layer{i}.weight"),
                    _widen(state[f"layer{i}.bias"], f"layer{i}.bias"),
                    int(meta[0]),
                    bool(meta[1]),
                    bool(meta[2]),
                )
            )
        meta = np.asarray(state.get("net.meta", np.zeros(0, np.int64)))
        if meta.shape != (2,) or meta.dtype != np.int64:
            raise ValueError("net.meta must be 2 int64 values (top, input_max)")
        return cls(layers, int(meta[0]), int(meta[1]))


def _compact(a: np.ndarray) -> np.ndarray:
    """int32 when every value fits (half the file), else int64 as is."""
    info = np.iinfo(np.int32)
    return a.astype(np.int32) if a.size and info.min <= a.min() and a.max() <= info.max else a


def _widen(a: object, name: str) -> np.ndarray:
    """An int32 or int64 array of a state as int64 (ValueError for any other dtype)."""
    a = np.asarray(a)
    if a.dtype not in (np.int32, np.int64):
        raise ValueError(f"{name} must be int32 or int64, got {a.dtype}")
    return a.astype(np.int64)


def _correlate(u: np.ndarray, taps: list[tuple[int, int, np.ndarray]], blas: bool) -> np.ndarray:
    """out[b, m, n] = Σ_t u[b, m + dy_t, n + dx_t] · w_t (u zero outside) for taps (dy_t, dx_t, w_t (C, O)).

    u (B, h, w, C) int64 -> (B, h, w, O) int64, as one matrix product per block of rows: the
    windows of u side by side (B·rows·w, T·C) times the stacked taps (T·C, O) ("im2col"). With
    ``blas`` the product is a float64 BLAS dgemm on the integers (exact when every Σ|w|·|u| is
    below 2^53, ``docs/bit-exact.md``), else NumPy's int64 product (exact below 2^63, slow).
    """
    b, h, wd, c = u.shape
    dtype = np.float64 if blas else np.int64
    weights = np.concatenate([w for _, _, w in taps]).astype(dtype)  # (T·C, O)
    m = max(max(abs(dy), abs(dx)) for dy, dx, _ in taps)
    padded = np.pad(u.astype(dtype), ((0, 0), (m, m), (m, m), (0, 0)))
    out = np.empty((b, h, wd, weights.shape[1]), dtype=np.int64)
    step = max(1, _BLOCK // max(1, b * wd * weights.shape[0]))  # rows per block: bounded memory
    for y in range(0, h, step):
        rows = min(step, h - y)
        windows = np.empty((b, rows, wd, len(taps), c), dtype=dtype)
        for t, (dy, dx, _) in enumerate(taps):
            windows[:, :, :, t] = padded[:, m + y + dy : m + y + dy + rows, m + dx : m + dx + wd]
        product = windows.reshape(-1, weights.shape[0]) @ weights  # Σ over taps and channels
        out[:, y : y + rows] = (np.rint(product) if blas else product).reshape(b, rows, wd, -1)
    return out


def _conv(u: np.ndarray, w: np.ndarray, blas: bool = False) -> np.ndarray:
    """Stride-1 'same' convolution (cross-correlation, zero padding p = k//2) of int64 u (B, C, h, w) -> (B, O, h, w).

    out[y, x] = Σ_{c, dy, dx} w[:, c, dy, dx] · u[c, y + dy − p, x + dx − p].
    """
    k = w.shape[2]
    p = k // 2
    taps = [(dy - p, dx - p, w[:, :, dy, dx].T) for dy in range(k) for dx in range(k)]
    return _correlate(u.transpose(0, 2, 3, 1), taps, blas).transpose(0, 3, 1, 2)


def _conv_transposed(u: np.ndarray, w: np.ndarray, blas: bool = False) -> np.ndarray:
    """Stride-2 transposed convolution (padding p = k//2, output padding 1) of int64 u (B, C, h, w) -> (B, O, 2h, 2w).

    As torch's ConvTranspose2d with weight (C, O, k, k) given here as (O, C, k, k): input (i, j)
    adds u·w[:, :, ky, kx] at output (2i + ky − p, 2j + kx − p). By phases: output
    (2m + ry, 2n + rx) = Σ w[:, :, ky, kx] · u[m − dy, n − dx] over the taps with
    ky = 2·dy + ry + p (and kx likewise), a stride-1 correlation of u for each (ry, rx).
    """
    k, (b, _, h, wd) = w.shape[2], u.shape
    p = k // 2
    channels_last = u.transpose(0, 2, 3, 1)
    out = np.zeros((b, 2 * h, 2 * wd, w.shape[0]), dtype=np.int64)  # a phase without taps (k = 1) stays 0
    for ry in range(2):
        for rx in range(2):
            taps = [
                (-((ky - ry - p) // 2), -((kx - rx - p) // 2), w[:, :, ky, kx].T)
                for ky in range(k)
                if (ky - ry - p) % 2 == 0
                for kx in range(k)
                if (kx - rx - p) % 2 == 0
            ]
            if taps:
                out[:, ry::2, rx::2] = _correlate(channels_last, taps, blas)
    return out.transpose(0, 3, 1, 2)
