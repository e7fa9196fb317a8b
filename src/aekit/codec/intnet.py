"""The integer hyper-synthesis network: decoded hyper-latent ẑ -> scale-table indices, in int64 only.

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

:func:`accumulator_bound` bounds every |a_l| from the weights and the largest input, and
:class:`IntegerNet` refuses weights whose bound reaches 2^62: no int64 overflow is possible,
so every operation is exact and the result cannot depend on the order of the sums (threads,
machine, library). ``docs/bit-exact.md`` gives the argument. Needs numpy only (no torch):
it runs on the device and in the cloud.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["IntegerLayer", "IntegerNet", "U_MAX", "INT_LIMIT", "accumulator_bound"]

U_MAX = (1 << 15) - 1  # largest activation between layers (the quantised ReLU's cap)
INT_LIMIT = 1 << 62  # every accumulator must stay below this in magnitude (int64 holds 2^63 − 1)
MAX_SHIFT = 48
MAX_CHANNELS = 1024
MAX_KERNEL = 7


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


def accumulator_bound(layers: list[IntegerLayer], input_max: int) -> int:
    """max over layers and output channels of Σ|w| · max|u_in| + |b|: no accumulator can be larger.

    Python integers (unbounded), so the bound itself cannot overflow.
    """
    u_max, worst = int(input_max), 0
    for layer in layers:
        per_channel = np.abs(layer.weight).reshape(len(layer.weight), -1).sum(1)
        bound = max(int(s) * u_max + abs(int(b)) for s, b in zip(per_channel.tolist(), layer.bias.tolist()))
        worst = max(worst, bound)
        u_max = U_MAX
    return worst


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
        reach 2^62 for inputs up to ``input_max`` (:func:`accumulator_bound`).
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
        bound = accumulator_bound(layers, input_max)
        if bound >= INT_LIMIT:
            raise ValueError(f"the integer network could overflow: accumulators up to {bound} >= 2^62")
        self.layers, self.top, self.input_max = list(layers), top, input_max
        self.bound = bound

    @property
    def in_channels(self) -> int:
        return int(self.layers[0].weight.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.layers[-1].weight.shape[0])

    @property
    def upsampling(self) -> int:
        return 1 << sum(layer.transposed for layer in self.layers)

    def __call__(self, z_hat: np.ndarray) -> np.ndarray:
        """The scale-table indices (B, M, h·2^t, w·2^t) of integer ẑ (B, C, h, w), |ẑ| <= input_max."""
        u = np.asarray(z_hat)
        if not np.issubdtype(u.dtype, np.integer) or u.ndim != 4 or u.shape[1] != self.in_channels:
            raise ValueError(f"ẑ must be integers (B, {self.in_channels}, h, w), got {u.dtype} {u.shape}")
        u = u.astype(np.int64)
        if u.size and int(np.abs(u).max()) > self.input_max:
            raise ValueError(f"ẑ exceeds ±{self.input_max}, the range the network is bounded for")
        for layer in self.layers:
            a = _conv_transposed(u, layer.weight) if layer.transposed else _conv(u, layer.weight)
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


def _conv(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stride-1 'same' convolution (cross-correlation, zero padding k//2) of int64 u (B, C, h, w)."""
    k = w.shape[2]
    p = k // 2
    b, _, h, wd = u.shape
    padded = np.pad(u, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((b, w.shape[0], h, wd), dtype=np.int64)
    for dy in range(k):
        for dx in range(k):
            window = padded[:, :, dy : dy + h, dx : dx + wd]  # u at (y + dy − p, x + dx − p)
            out += np.einsum("bchw,oc->bohw", window, w[:, :, dy, dx])
    return out


def _conv_transposed(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stride-2 transposed convolution (padding k//2, output padding 1) of int64 u (B, C, h, w) -> (B, O, 2h, 2w).

    As torch's ConvTranspose2d with weight (C, O, k, k) given here as (O, C, k, k): input (i, j)
    adds u·w[:, :, ky, kx] at output (2i + ky − p, 2j + kx − p).
    """
    k = w.shape[2]
    p = k // 2
    b, _, h, wd = u.shape
    full = np.zeros(
        (b, w.shape[0], 2 * h + k, 2 * wd + k), dtype=np.int64
    )  # output shifted by +p... with margin
    for ky in range(k):
        for kx in range(k):
            contrib = np.einsum("bchw,oc->bohw", u, w[:, :, ky, kx])
            full[:, :, ky : ky + 2 * h : 2, kx : kx + 2 * wd : 2] += contrib
    return full[:, :, p : p + 2 * h, p : p + 2 * wd]
