"""Torch modules of the autoencoder family."""

from .base import AEModule
from .conv import ConvAutoencoder
from .conv_stacked import ConvClassifier, StackedConvAutoencoder
from .denoisers import ConvDenoiser
from .dense import Autoencoder, DenoisingAutoencoder
from .layers import Dense, DenseStack
from .pooling import unpool
from .stacked import StackedAutoencoder, StackedClassifier

__all__ = [
    "AEModule",
    "Autoencoder",
    "DenoisingAutoencoder",
    "StackedAutoencoder",
    "StackedClassifier",
    "ConvAutoencoder",
    "StackedConvAutoencoder",
    "ConvClassifier",
    "ConvDenoiser",
    "unpool",
    "Dense",
    "DenseStack",
]
