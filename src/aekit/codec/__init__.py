"""The phone-to-cloud codec: train for rate-distortion, compress on the device, decode in the cloud.

- :func:`train_codec` trains an autoencoder with uniform-noise quantisation and a factorized
  entropy model (L = D + λ·R, Ballé et al. 2017/2018) and returns a :class:`Codec`.
- :class:`Codec` (torch): ``update()``, ``compress`` / ``decompress``, ``save`` / ``load``,
  ``export_encoder`` (ONNX).
- :class:`DeviceEncoder` (numpy + onnxruntime + constriction, no torch): what ships to a phone.
- :mod:`aekit.codec.bitstream`: the versioned container (``docs/bitstream.md``).
- :func:`create_app` (FastAPI): the decode service behind ``aekit serve``.

Names are imported on first use, so ``from aekit.codec import DeviceEncoder`` never imports torch.
"""

from importlib import import_module as _import_module

_LAZY = {
    "Codec": ".model",
    "train_codec": ".training",
    "FactorizedPrior": ".entropy",
    "DeviceEncoder": ".device",
    "Tables": ".coder",
    "create_app": ".service",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'aekit.codec' has no attribute {name!r}")
    value = getattr(_import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
