"""aekit: the classic autoencoder family in PyTorch.

Dense, tied-weight and denoising autoencoders, stacked (denoising) autoencoders
with greedy layer-wise pre-training, convolutional autoencoders, and a
phone-to-cloud codec. See ``seed/autoencoders.md`` for the lecture notes that
specify them.
"""

from ._version import __version__
from . import corruption, errors, metrics
from .corruption import Gaussian, Masking, SaltAndPepper
from .inference import encode, predict, predict_proba, reconstruct, reconstruction_error
from .io import load
from .nn import (Autoencoder, ConvAutoencoder, ConvClassifier, DenoisingAutoencoder, StackedAutoencoder,
                 StackedClassifier, StackedConvAutoencoder)
from .train import fit, fit_classifier, seed_everything

__all__ = [
    "__version__", "Autoencoder", "DenoisingAutoencoder", "StackedAutoencoder", "StackedClassifier",
    "ConvAutoencoder", "StackedConvAutoencoder", "ConvClassifier", "Masking", "Gaussian", "SaltAndPepper",
    "fit", "fit_classifier", "seed_everything", "load", "encode", "reconstruct", "reconstruction_error",
    "predict", "predict_proba", "corruption", "errors", "metrics",
]
