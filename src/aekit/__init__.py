"""aekit: the classic autoencoder family in PyTorch.

Dense, tied-weight and denoising autoencoders, stacked (denoising) autoencoders
with greedy layer-wise pre-training, convolutional autoencoders, and a
phone-to-cloud codec. See ``seed/autoencoders.md`` for the lecture notes that
specify them.

The torch-dependent names are imported on first use (PEP 562), so the
torch-free parts (``aekit.errors``, ``aekit.codec.DeviceEncoder``) import on a
device that has no torch installed.
"""

from importlib import import_module as _import_module

from . import errors
from ._version import __version__

# public name -> (module, attribute or None for the module itself); imported on first access
_LAZY = {
    "Autoencoder": (".nn", "Autoencoder"),
    "DenoisingAutoencoder": (".nn", "DenoisingAutoencoder"),
    "StackedAutoencoder": (".nn", "StackedAutoencoder"),
    "StackedClassifier": (".nn", "StackedClassifier"),
    "ConvAutoencoder": (".nn", "ConvAutoencoder"),
    "StackedConvAutoencoder": (".nn", "StackedConvAutoencoder"),
    "ConvClassifier": (".nn", "ConvClassifier"),
    "Masking": (".corruption", "Masking"),
    "Gaussian": (".corruption", "Gaussian"),
    "SaltAndPepper": (".corruption", "SaltAndPepper"),
    "fit": (".train", "fit"),
    "fit_classifier": (".train", "fit_classifier"),
    "pretrain": (".train", "pretrain"),
    "finetune": (".train", "finetune"),
    "TrainConfig": (".train", "TrainConfig"),
    "save": (".io", "save"),
    "seed_everything": (".train", "seed_everything"),
    "load": (".io", "load"),
    "encode": (".inference", "encode"),
    "reconstruct": (".inference", "reconstruct"),
    "reconstruction_error": (".inference", "reconstruction_error"),
    "predict": (".inference", "predict"),
    "predict_proba": (".inference", "predict_proba"),
    "corruption": (".corruption", None),
    "metrics": (".metrics", None),
}

# subpackages and modules reachable as attributes (``aekit.nn.Autoencoder``) without their own import,
# as in torch; kept out of ``__all__`` so that ``from aekit import *`` does not import matplotlib & co.
_SUBMODULES = (
    "nn",
    "data",
    "train",
    "io",
    "inference",
    "codec",
    "viz",
    "maps",
    "evaluation",
    "sklearn",
    "report",
)

__all__ = ["__version__", "errors", *_LAZY]


def __getattr__(name):
    if name in _SUBMODULES:
        return _import_module(f".{name}", __name__)
    if name not in _LAZY:
        raise AttributeError(f"module 'aekit' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = _import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
