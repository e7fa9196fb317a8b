"""Torch modules of the autoencoder family."""

from .base import AEModule
from .dense import Autoencoder, DenoisingAutoencoder

__all__ = ["AEModule", "Autoencoder", "DenoisingAutoencoder"]
