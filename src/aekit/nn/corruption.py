"""The corruption process q_D(x̃ | x) of the denoising autoencoder.

Vincent, Larochelle, Bengio & Manzagol (ICML 2008; JMLR 2010): the input x is
stochastically corrupted to x̃, the autoencoder maps x̃ to a code and is asked
to reconstruct the *clean* x. Every call draws fresh noise.

Each corruption is a small ``torch.nn.Module`` with no parameters, so it can sit
inside a model, and has a one-line spec (``"masking:0.25"``) used by the CLI and
by checkpoints.

Gaussian clipping and salt-and-pepper need the *possible values* of the input,
its ``value_range`` (low, high): [0, 1] by default (pixels, sigmoid codes);
(-1, 1) for tanh codes; ``None`` for a side without a bound (ReLU or linear
codes). Salt and pepper are the maximum and the minimum ("the minimum or
maximum possible value", Vincent et al. 2010). A stack gives each layer's q_D
the range of the codes below (:meth:`Corruption.with_range`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, cast, overload

import torch
from torch import nn

from ..errors import DataError

__all__ = ["Corruption", "Masking", "Gaussian", "SaltAndPepper", "parse", "from_config", "UNIT_RANGE"]

#: ``(low, high)``: the possible values of an input, None for a side without a bound.
ValueRange = tuple[float | None, float | None]
UNIT_RANGE: ValueRange = (0.0, 1.0)


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return value


def _check_range(value_range: Iterable[float | None]) -> ValueRange:
    """``(low, high)`` as floats, ``None`` for an unbounded side, low < high."""
    try:
        low, high = (None if v is None else float(v) for v in value_range)
    except (TypeError, ValueError):
        low = high = math.nan
    if any(v is not None and not math.isfinite(v) for v in (low, high)) or (
        low is not None and high is not None and not low < high
    ):
        raise ValueError(
            f"value_range must be a pair (low, high) of finite numbers with low < high "
            f"(None for an unbounded side), got {value_range!r}"
        )
    return low, high


def _range_text(value_range: ValueRange) -> str:
    low, high = value_range
    return ("(-inf" if low is None else f"[{low:g}") + ", " + ("inf)" if high is None else f"{high:g}]")


def _noise(
    draw: Callable[..., torch.Tensor], x: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """``draw`` (torch.rand or torch.randn) shaped like ``x``: from ``generator``, else the global generator."""
    if generator is None:
        return (torch.rand_like if draw is torch.rand else torch.randn_like)(x)
    return draw(x.shape, generator=generator, dtype=x.dtype, device=x.device)


class Corruption(nn.Module):
    """Base class: ``corruption(x)`` returns x̃ ~ q_D(x̃ | x), same shape and dtype; ``corruption(x,
    generator=g)`` draws the noise from the ``torch.Generator`` g instead of the global one."""

    kind: str = ""
    value_range: ValueRange | None = None  # (low, high) of the input, for the kinds whose noise depends on it

    def to_config(self) -> dict:
        """The JSON-serialisable description that :func:`from_config` reads back."""
        raise NotImplementedError

    def _range_config(self) -> dict:
        """``{"range": [low, high]}`` unless the range is the default [0, 1] (older configs stay as they were)."""
        if self.value_range is None or self.value_range == UNIT_RANGE:
            return {}
        return {"range": list(self.value_range)}

    def spec(self) -> str:
        """The short CLI form, e.g. ``"masking:0.25"``, ``"saltpepper:0.1:-1..1"``."""
        values = [v for k, v in self.to_config().items() if k not in ("type", "range")]
        return ":".join([self.kind, *(str(v) for v in values), *self._range_spec()])

    def _range_spec(self) -> list[str]:
        if self.value_range is None or self.value_range == UNIT_RANGE:
            return []
        return ["..".join("" if v is None else f"{v:g}" for v in self.value_range)]

    def with_range(self, low: float | None, high: float | None) -> Corruption:
        """The same noise for inputs whose possible values are [low, high] (None: that side unbounded)."""
        if self.value_range is None:  # masking sets inputs to 0 whatever their range
            return self
        return from_config({**self.to_config(), "range": [low, high]})

    def bounds(self) -> ValueRange | None:
        """The range this noise keeps x̃ in, or None when it does not depend on one."""
        return self.value_range

    def check_input(self, x: torch.Tensor, name: str = "X") -> None:
        """:class:`~aekit.errors.DataError` if ``x`` has values outside :meth:`bounds`: the noise would
        clip them, or put salt and pepper at values foreign to them."""
        bounds = self.bounds()
        if bounds is None or x.numel() == 0:
            return
        (low, high), lo, hi = bounds, float(x.min()), float(x.max())
        if (low is not None and lo < low) or (high is not None and hi > high):
            lo_out, hi_out = (
                math.floor(lo * 100) / 100,
                math.ceil(hi * 100) / 100,
            )  # rounded outwards: it fits
            raise DataError(
                f"{name} has values in [{lo:g}, {hi:g}], but the corruption {self.spec()!r} takes "
                f"inputs in {_range_text(bounds)}: give it the data's range, e.g. "
                f"{self.with_range(lo_out, hi_out).spec()!r} (Python: value_range=({lo_out:g}, "
                f"{hi_out:g})); an empty side, as in '..', has no bound"
            )

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.to_config().items() if k != "type")


class Masking(Corruption):
    """Masking noise: each input is set to 0 with probability ν (the rest kept)."""

    kind = "masking"

    def __init__(self, nu: float = 0.25) -> None:
        super().__init__()
        self.nu = _check_fraction("Masking nu", nu)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        keep = _noise(torch.rand, x, generator) >= self.nu
        return x * keep

    def to_config(self) -> dict:
        return {"type": self.kind, "nu": self.nu}


class Gaussian(Corruption):
    """Additive isotropic Gaussian noise x̃ = x + σ·ε, ε ~ N(0, I), clipped to ``value_range`` if ``clip``."""

    kind = "gaussian"
    value_range: ValueRange

    def __init__(
        self, sigma: float = 0.5, clip: bool = True, value_range: Iterable[float | None] = UNIT_RANGE
    ) -> None:
        super().__init__()
        sigma = float(sigma)
        if not sigma >= 0.0 or sigma != sigma or sigma == float("inf"):
            raise ValueError(f"Gaussian sigma must be a finite number >= 0, got {sigma!r}")
        self.sigma = sigma
        self.clip = bool(clip)
        self.value_range = _check_range(value_range)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        noisy = x + self.sigma * _noise(torch.randn, x, generator)
        low, high = self.value_range
        if not self.clip or (low is None and high is None):
            return noisy
        return noisy.clamp_(low, high)

    def bounds(self) -> ValueRange | None:
        return self.value_range if self.clip else None

    def to_config(self) -> dict:
        return {"type": self.kind, "sigma": self.sigma, "clip": self.clip, **self._range_config()}

    def spec(self) -> str:
        return ":".join([f"gaussian:{self.sigma}", *self._range_spec(), *([] if self.clip else ["noclip"])])


class SaltAndPepper(Corruption):
    """Salt-and-pepper noise: a fraction ν of inputs set to the minimum or the maximum of ``value_range``
    (pepper or salt, equally likely): 0 or 1 for inputs in [0, 1]."""

    kind = "saltpepper"
    value_range: ValueRange

    def __init__(self, nu: float = 0.1, value_range: Iterable[float | None] = UNIT_RANGE) -> None:
        super().__init__()
        self.nu = _check_fraction("SaltAndPepper nu", nu)
        self.value_range = _check_range(value_range)
        if None in self.value_range:
            raise ValueError(
                f"salt-and-pepper noise sets inputs to their minimum or maximum possible value: its "
                f"value_range needs both bounds, got {_range_text(self.value_range)}"
            )

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        hit = _noise(torch.rand, x, generator) < self.nu
        salt = _noise(torch.rand, x, generator) < 0.5
        low, high = cast("tuple[float, float]", self.value_range)  # both bounds: checked in __init__
        return torch.where(hit, torch.where(salt, high, low).to(x.dtype), x)  # salt = max, pepper = min

    def to_config(self) -> dict:
        return {"type": self.kind, "nu": self.nu, **self._range_config()}


_KINDS: dict[str, type[Corruption]] = {cls.kind: cls for cls in (Masking, Gaussian, SaltAndPepper)}
#: kind -> (the symbol of its one required number, an example value), for the message of a bare kind.
_PARAMETER = {"masking": ("ν", "0.25"), "gaussian": ("σ", "0.5"), "saltpepper": ("ν", "0.1")}
_ALIASES = {
    "mask": "masking",
    "gauss": "gaussian",
    "saltandpepper": "saltpepper",
    "sp": "saltpepper",
    "salt-and-pepper": "saltpepper",
    "salt_pepper": "saltpepper",
}


def parse(spec: str) -> Corruption:
    """Build a corruption from ``"masking:0.25"``, ``"gaussian:0.5"``, ``"gaussian:0.5:noclip"``
    or ``"saltpepper:0.1"``; a value range other than [0, 1] follows as ``LOW..HIGH``
    (``"saltpepper:0.1:-1..1"``, ``"gaussian:0.5:0.."`` for [0, inf)). The number (ν or σ) is
    required: a bare ``"masking"`` is refused rather than given a default the user never chose."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"corruption spec must be a string like 'masking:0.25', got {spec!r}")
    kind, _, rest = spec.strip().lower().partition(":")
    kind = _ALIASES.get(kind, kind)
    if kind not in _KINDS:
        raise ValueError(
            f"unknown corruption {kind!r} in {spec!r}; expected one of "
            f"{', '.join(sorted(_KINDS))} (e.g. 'masking:0.25')"
        )
    parts = rest.split(":") if rest else []
    if not parts or not parts[0].strip():
        symbol, example = _PARAMETER[kind]
        raise ValueError(f"{spec.strip()!r} needs its {symbol}, e.g. {kind}:{example}")
    if any(not p.strip() for p in parts):
        raise ValueError(f"{spec.strip()!r} has an empty field between ':'; expected e.g. '{kind}:0.25'")
    try:
        options: dict[str, Any] = {}
        if kind == "gaussian" and parts and parts[-1] in ("noclip", "clip"):
            options["clip"] = parts.pop() == "clip"
        if kind != "masking" and parts and ".." in parts[-1]:
            options["value_range"] = [float(v) if v else None for v in parts.pop().split("..")]
        return _KINDS[kind](*(float(p) for p in parts), **options)
    except (TypeError, ValueError) as err:
        raise ValueError(f"bad corruption spec {spec!r}: {err}") from None


@overload
def from_config(config: None) -> None: ...
@overload
def from_config(config: Corruption | str | dict) -> Corruption: ...
@overload
def from_config(config: object) -> Corruption | None: ...
def from_config(config: object) -> Corruption | None:
    """Accept ``None``, a :class:`Corruption`, a spec string or a ``to_config()`` dict."""
    if config is None or isinstance(config, Corruption):
        return config
    if isinstance(config, str):
        return parse(config)
    if isinstance(config, dict):
        args = dict(config)
        kind = args.pop("type", None)
        if kind not in _KINDS:
            raise ValueError(f"unknown corruption type {kind!r}; expected one of {sorted(_KINDS)}")
        if "range" in args:
            args["value_range"] = args.pop("range")
        return _KINDS[kind](**args)
    raise TypeError(
        f"corruption must be None, a Corruption, a spec string or a dict, got {type(config).__name__}"
    )
