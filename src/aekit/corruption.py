"""The corruption process q_D(x̃ | x) of the denoising autoencoder.

Vincent, Larochelle, Bengio & Manzagol (ICML 2008; JMLR 2010): the input x is
stochastically corrupted to x̃, the autoencoder maps x̃ to a code and is asked
to reconstruct the *clean* x. Every call draws fresh noise.

Each corruption is a small ``torch.nn.Module`` with no parameters, so it can sit
inside a model, and has a one-line spec (``"masking:0.25"``) used by the CLI and
by checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Corruption", "Masking", "Gaussian", "SaltAndPepper", "parse", "from_config"]


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return value


class Corruption(nn.Module):
    """Base class: ``corruption(x)`` returns x̃ ~ q_D(x̃ | x), same shape and dtype."""

    kind: str = ""

    def to_config(self) -> dict:
        """The JSON-serialisable description that :func:`from_config` reads back."""
        raise NotImplementedError

    def spec(self) -> str:
        """The short CLI form, e.g. ``"masking:0.25"``."""
        values = [v for k, v in self.to_config().items() if k != "type"]
        return ":".join([self.kind, *(str(v) for v in values)])

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.to_config().items() if k != "type")


class Masking(Corruption):
    """Masking noise: each input is set to 0 with probability ν (the rest kept)."""

    kind = "masking"

    def __init__(self, nu: float = 0.25):
        super().__init__()
        self.nu = _check_fraction("Masking nu", nu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = torch.rand_like(x) >= self.nu
        return x * keep

    def to_config(self) -> dict:
        return {"type": self.kind, "nu": self.nu}


class Gaussian(Corruption):
    """Additive isotropic Gaussian noise x̃ = x + σ·ε, ε ~ N(0, I), clipped to [0, 1] if ``clip``."""

    kind = "gaussian"

    def __init__(self, sigma: float = 0.5, clip: bool = True):
        super().__init__()
        sigma = float(sigma)
        if not sigma >= 0.0 or sigma != sigma or sigma == float("inf"):
            raise ValueError(f"Gaussian sigma must be a finite number >= 0, got {sigma!r}")
        self.sigma = sigma
        self.clip = bool(clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noisy = x + self.sigma * torch.randn_like(x)
        return noisy.clamp_(0.0, 1.0) if self.clip else noisy

    def to_config(self) -> dict:
        return {"type": self.kind, "sigma": self.sigma, "clip": self.clip}

    def spec(self) -> str:
        return f"gaussian:{self.sigma}" + ("" if self.clip else ":noclip")


class SaltAndPepper(Corruption):
    """Salt-and-pepper noise: a fraction ν of inputs set to 0 or 1 with equal probability."""

    kind = "saltpepper"

    def __init__(self, nu: float = 0.1):
        super().__init__()
        self.nu = _check_fraction("SaltAndPepper nu", nu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hit = torch.rand_like(x) < self.nu
        salt = (torch.rand_like(x) < 0.5).to(x.dtype)  # 1 ("salt") or 0 ("pepper")
        return torch.where(hit, salt, x)

    def to_config(self) -> dict:
        return {"type": self.kind, "nu": self.nu}


_KINDS = {cls.kind: cls for cls in (Masking, Gaussian, SaltAndPepper)}
_ALIASES = {"mask": "masking", "gauss": "gaussian", "saltandpepper": "saltpepper", "sp": "saltpepper",
            "salt-and-pepper": "saltpepper", "salt_pepper": "saltpepper"}


def parse(spec: str) -> Corruption:
    """Build a corruption from ``"masking:0.25"``, ``"gaussian:0.5"``, ``"gaussian:0.5:noclip"``
    or ``"saltpepper:0.1"``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"corruption spec must be a string like 'masking:0.25', got {spec!r}")
    kind, _, rest = spec.strip().lower().partition(":")
    kind = _ALIASES.get(kind, kind)
    if kind not in _KINDS:
        raise ValueError(f"unknown corruption {kind!r} in {spec!r}; expected one of "
                         f"{', '.join(sorted(_KINDS))} (e.g. 'masking:0.25')")
    parts = [p for p in rest.split(":") if p] if rest else []
    try:
        if kind == "gaussian":
            clip = True
            if parts and parts[-1] in ("noclip", "clip"):
                clip = parts.pop() == "clip"
            return Gaussian(*(float(p) for p in parts), clip=clip)
        return _KINDS[kind](*(float(p) for p in parts))
    except (TypeError, ValueError) as err:
        raise ValueError(f"bad corruption spec {spec!r}: {err}") from None


def from_config(config) -> Corruption | None:
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
        return _KINDS[kind](**args)
    raise TypeError(f"corruption must be None, a Corruption, a spec string or a dict, got {type(config).__name__}")
