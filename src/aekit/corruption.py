"""The corruption process q_D(x̃ | x): it lives in :mod:`aekit.nn.corruption`; this name is kept for imports."""

from .nn.corruption import UNIT_RANGE, Corruption, Gaussian, Masking, SaltAndPepper, from_config, parse

__all__ = ["Corruption", "Masking", "Gaussian", "SaltAndPepper", "parse", "from_config", "UNIT_RANGE"]
