"""The names the command line offers as ``choices``, kept free of torch so that ``--help`` starts fast.

The library's registries hold the same names (:data:`aekit.nn.activations.ACTIVATIONS`,
:data:`aekit.nn.conv.BLOCKS`, :data:`aekit.nn.pooling.UNPOOL_MODES`); a test checks that they agree.
"""

from __future__ import annotations

#: φ of a layer (aekit.nn.activations.ACTIVATIONS).
ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "gelu", "linear")
#: Convolutional blocks: Conv+BN+ReLU, or Masci's tanh(Ψ(X*W+b)) (aekit.nn.conv.BLOCKS).
CONV_BLOCKS = ("modern", "masci")
#: Approximate inverses of max-pooling (aekit.nn.pooling.UNPOOL_MODES).
UNPOOL_NAMES = ("upsample", "switches", "random", "spread")
