"""Decoding the requests of one event-loop turn together: one pass of g_s for a burst.

Decoding one item is memory-bound (every request reads all of the decoder's weights to make one
row), so small concurrent requests share a single call of x̂ = g_s(ŷ) (Ballé et al. 2017's
synthesis transform) on their stacked integer symbols.
"""

from __future__ import annotations

import asyncio

import numpy as np

from ..model import Codec

__all__ = ["Batcher", "INLINE_SYMBOLS"]

INLINE_SYMBOLS = 1 << 14  # messages up to this many symbols are decoded on the event loop


class Batcher:
    """Decodes the symbols of the requests that reach it in one event-loop turn with a single g_s call.

    Decoding one item is memory-bound: every request reads all the decoder's weights to make one
    row (megabytes for a 784-1024-512-32 model). Under concurrent load many requests are parsed in
    the same turn of the loop; each one queues its integer symbols here and the first schedules a
    flush for the next turn (``call_soon``: no timer, so a lone request waits for nothing), which
    stacks the symbols, runs :meth:`Codec.dequantize` once and hands each request its rows.
    A batch's reconstructions can differ from the same streams decoded one by one in the last
    bits of float32 (the matrix product's summation order); the symbols are exact either way.
    """

    def __init__(self, codec: Codec, max_symbols: int = INLINE_SYMBOLS):
        self.codec = codec
        self.max_symbols = max_symbols
        self.pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self.size = 0
        self.batches = self.items = 0  # counters, for tests and curious operators

    async def decode(self, symbols: np.ndarray) -> np.ndarray:
        """x̂ = g_s(ŷ) of ``symbols`` (N, D), computed with the other requests of this turn."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.pending:
            loop.call_soon(self.flush)
        self.pending.append((symbols, future))
        self.size += symbols.size
        if self.size >= self.max_symbols:  # bound the batch: decode now, the scheduled flush finds it empty
            self.flush()
        return await future

    def flush(self) -> None:
        """Decode every pending request in one pass and hand each its rows (or the pass's error)."""
        batch, self.pending, self.size = self.pending, [], 0
        if not batch:
            return
        self.batches, self.items = self.batches + 1, self.items + len(batch)
        try:
            rows = self.codec.dequantize(np.concatenate([symbols for symbols, _ in batch]))
        except Exception as err:  # every waiting request learns of it; the service stays up
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        start = 0
        for symbols, future in batch:
            if not future.done():  # a client that went away leaves a cancelled future
                future.set_result(rows[start : start + len(symbols)])
            start += len(symbols)
