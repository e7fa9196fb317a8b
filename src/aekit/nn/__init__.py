"""Torch modules of the autoencoder family."""

from .base import AEModule
from .dense import Autoencoder, DenoisingAutoencoder
from .stacked import StackedAutoencoder, StackedClassifier

__all__ = ["AEModule", "Autoencoder", "DenoisingAutoencoder", "StackedAutoencoder", "StackedClassifier"]
