"""The phone-to-cloud codec: train for rate-distortion, compress on the device, decode in the cloud.

In layers, one job each (as in Ballé et al. 2017/2018 and CompressAI):

- networks (:mod:`.networks`): the analysis / synthesis transforms g_a / g_s
  (:class:`Transforms`; any aekit autoencoder through :class:`AutoencoderTransforms`).
- entropy model (:mod:`.entropy`, :mod:`.bottleneck`): the factorized density, quantisation in
  its modes (:meth:`EntropyBottleneck.quantize`) and the integer tables of an explicit ``update()``.
- the coder (:mod:`.coder`, range coding with constriction) and the container
  (:mod:`.bitstream`, ``docs/bitstream.md``), joined by :func:`encode_message`.
- :class:`Codec` (torch): L = D + λ·R for :func:`train_codec`, ``compress`` / ``decompress``,
  ``save`` / ``load`` (``codec.json`` through :mod:`.files`), ``export_encoder`` (ONNX).
- the device: :class:`DeviceEncoder` (numpy + onnxruntime + constriction, no torch) and
  :func:`send` (urllib), what ships to a phone.
- photos of any size: :class:`PhotoCodec` (g_a / g_s with :class:`GDN`, :mod:`.networks_conv`,
  one density per code channel), :func:`train_photo_codec` on random crops, bitstream format 3,
  :class:`PhotoDeviceEncoder` / :class:`PhotoDeviceDecoder` (the two ONNX halves, no torch) and the
  shipped rate points (:mod:`.pretrained`, ``aekit codec models``).
- the scale hyperprior: :class:`HyperpriorCodec` (h_a / h_s, a Gaussian conditional over a table of
  64 scales, :mod:`.gaussian`), whose h_s runs in integers (:class:`IntegerNet`, :mod:`.intnet`) so
  its streams decode bit-exactly anywhere; bitstream format 4; :class:`HyperDeviceEncoder` /
  :class:`HyperDeviceDecoder` (ONNX + integer h_s, no torch).
- the cloud: :func:`create_app` (FastAPI, :mod:`.service`), the decode service behind ``aekit serve``.

Names are imported on first use, so ``from aekit.codec import DeviceEncoder`` never imports torch.
"""

from importlib import import_module as _import_module

_LAZY = {
    "Codec": ".model",
    "train_codec": ".training",
    "FactorizedPrior": ".entropy",
    "EntropyBottleneck": ".bottleneck",
    "Transforms": ".networks",
    "AutoencoderTransforms": ".networks",
    "DeviceEncoder": ".device",
    "PhotoCodec": ".photo",
    "train_photo_codec": ".photo_training",
    "PhotoSet": ".photo_training",
    "PhotoDeviceEncoder": ".device_photo",
    "PhotoDeviceDecoder": ".device_photo",
    "HyperpriorCodec": ".hyperprior",
    "HyperDeviceEncoder": ".device_hyper",
    "HyperDeviceDecoder": ".device_hyper",
    "IntegerNet": ".intnet",
    "GDN": ".gdn",
    "Tables": ".coder",
    "encode_message": ".message",
    "decode_message": ".message",
    "send": ".client",
    "SendError": ".client",
    "create_app": ".service",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'aekit.codec' has no attribute {name!r}")
    value = getattr(_import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
