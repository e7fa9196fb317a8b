"""The model fingerprint: a SHA-256 of every weight and buffer, the CDF tables included.

A bitstream carries its first bytes as the model id and binds all 32 bytes into its
CRC-32 (``docs/bitstream.md``), so a stream decodes only with the very model that made it.
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["state_digest"]


def state_digest(state: dict[str, torch.Tensor]) -> bytes:
    """SHA-256 (32 bytes) over the tensors of ``state`` by sorted name: ``name|dtype|shape|`` then the bytes."""
    digest = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return digest.digest()
