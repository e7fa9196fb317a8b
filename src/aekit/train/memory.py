"""Keep freed memory for reuse: the allocator setting that makes CPU training steps faster.

A training step of a convolutional codec allocates and frees tensors of tens of MB many times
(activations, their gradients, temporaries: 8 crops of 256² give 8·64·128·128 floats = 32 MiB
per activation of the first layer). glibc's malloc serves blocks above its mmap threshold
(at most 32 MiB by its own adjustment) with fresh ``mmap`` pages and returns them on ``free``,
so every such tensor is paid again in page faults as it is first written: a third of a step of
the photo codec on one CPU thread (benchmarks/README.md, "training throughput").

:func:`keep_freed_memory` raises the mmap threshold and the trim threshold with ``mallopt``
(what ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` do from the environment), so freed
blocks stay in the heap and the next step reuses them. It changes the whole process (its
memory is then not handed back to the system until it exits: a training process's peak stays
resident), and does nothing where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30  # blocks above 1 GiB still come from mmap
TRIM_THRESHOLD = 2**31 - 1  # free memory at the heap's top is kept up to 2 GiB (mallopt takes an int)

_done = False


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks for reuse (once per process); whether it is in effect.

    False (and nothing changed) off Linux, or where the C library has no ``mallopt`` or refuses
    the values (another C library: musl, macOS, Windows).
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; the trim threshold first, so a refused mmap one changes nothing else
    _done = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and (
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    )
    return _done
