"""Entropy coding of integer symbols with integer frequency tables, by constriction's range coder.

Each latent dimension d has a table: an ``offset`` o_d, a ``length`` L_d and integer
frequencies f_d[0..L_d-1] >= 1 summing to 2^precision, so symbol s has probability
P(s) = f_d[s - o_d] / 2^precision (Ballé et al. 2018, "the entropy model is tabulated
for the decoder"). The tables are integers stored with the model; the coder turns
them into constriction ``Categorical`` models the same way on every machine, so the
device and the cloud always agree. Symbols of a message are coded dimension by
dimension (all items' dimension 0, then dimension 1, ...). Coding is done by
`constriction <https://bamler-lab.github.io/constriction/>`_ (Bamler 2022), not here.

A symbol of dimension d costs at least b_d = ⌊−log2 max_s P_d(s)⌋ bits, so a payload of
N items is at least ⌊N·Σ_d b_d / 8⌋ − 4 bytes long (:meth:`Tables.min_payload`): the
decoder refuses shorter ones before decoding anything (an empty payload cannot claim
65 536 items), and the encoder pads with zero bytes, which decode as nothing, in the
rare message whose range-coded form is shorter still.

This module needs numpy and constriction only (no torch): it runs on the device.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import BitstreamError, DataError

__all__ = ["Tables", "MAX_TABLE_LENGTH", "MAX_PRECISION", "FLUSH_BYTES"]

MAX_TABLE_LENGTH = 1 << 12  # symbols per dimension
MAX_PRECISION = 24  # constriction's default range coder precision
FLUSH_BYTES = 4  # allowance under N·b/8 bits: the coder's final word, sealed and trimmed
_MAX_TRIM = 8  # bytes the encoder tries to cut off the sealed stream
#: Table indices grouped by table: row/item d holds those coded with table d (a (D, N) array or a list).
Groups = np.ndarray | list[np.ndarray]
_TRIM_UP_TO = 1 << 10  # ... in payloads up to 1 KiB (beyond: < 1% saved for several full decodes)


class Tables:
    """Integer CDF tables of a factorized entropy model, with their constriction models.

    Parameters
    ----------
    offsets : (D,) int
        o_d, the smallest symbol of dimension d.
    lengths : (D,) int
        L_d, the number of symbols of dimension d (2..4096).
    freqs : (D, W) int
        f_d, frequencies >= 1 in the first L_d columns (0 after), each row summing to 2^precision.
    precision : int
        Bits of the fixed-point probabilities (1..24).
    """

    def __init__(self, offsets: ArrayLike, lengths: ArrayLike, freqs: ArrayLike, precision: int) -> None:
        offsets = np.asarray(offsets)
        lengths = np.asarray(lengths)
        freqs = np.asarray(freqs)
        if not isinstance(precision, (int, np.integer)) or not 1 <= precision <= MAX_PRECISION:
            raise ValueError(f"precision must be an int in 1..{MAX_PRECISION}, got {precision!r}")
        if (
            offsets.ndim != 1
            or lengths.shape != offsets.shape
            or freqs.ndim != 2
            or len(freqs) != len(offsets)
        ):
            raise ValueError(
                f"tables must be offsets (D,), lengths (D,), freqs (D, W); got "
                f"{offsets.shape}, {lengths.shape}, {freqs.shape}"
            )
        for name, a in (("offsets", offsets), ("lengths", lengths), ("freqs", freqs)):
            if not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"{name} must be integers, got dtype {a.dtype}")
        if freqs.shape[1] > MAX_TABLE_LENGTH or len(offsets) == 0:
            raise ValueError(
                f"tables must have 1.. dimensions and at most {MAX_TABLE_LENGTH} symbols each, "
                f"got freqs of shape {freqs.shape}"
            )
        if freqs.shape[1] < 2 or lengths.min() < 2 or lengths.max() > freqs.shape[1]:
            raise ValueError(
                f"lengths must lie in 2..{freqs.shape[1]} (the coder needs two symbols at least), "
                f"got {lengths.min()}..{lengths.max()}"
            )
        if np.abs(offsets).max() > 1 << 30:
            raise ValueError("offsets must lie within ±2^30")
        total = 1 << int(precision)
        used = np.arange(freqs.shape[1])[None, :] < lengths[:, None]
        if (freqs[used] < 1).any() or (freqs[~used] != 0).any():
            raise ValueError("frequencies must be >= 1 within each table's length and 0 after it")
        sums = freqs.astype(np.int64).sum(1)
        if (sums != total).any():
            d = int(np.argmax(sums != total))
            raise ValueError(
                f"the frequencies of dimension {d} sum to {sums[d]}, expected 2^{precision} = {total}"
            )
        self.offsets = offsets.astype(np.int64)
        self.lengths = lengths.astype(np.int64)
        self.freqs = freqs.astype(np.int64)
        self.precision = int(precision)
        # b_d = ⌊−log2 max_s P_d(s)⌋ = precision − ⌈log2 max_s f_d(s)⌉, and ⌈log2 f⌉ = (f − 1).bit_length()
        self.min_bits = np.array(
            [self.precision - (int(f) - 1).bit_length() for f in self.freqs.max(1)], np.int64
        )
        self.min_item_bits = int(self.min_bits.sum())
        self._models: list | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_models"] = None  # constriction models are rebuilt on demand (they do not pickle)
        return state

    @property
    def dim(self) -> int:
        """D, the number of latent dimensions (symbols per item)."""
        return len(self.offsets)

    @property
    def low(self) -> np.ndarray:
        return self.offsets

    @property
    def high(self) -> np.ndarray:
        return self.offsets + self.lengths - 1

    def models(self) -> list:
        """One constriction ``Categorical`` per dimension (built once, deterministically from the integers)."""
        if self._models is None:
            import constriction

            scale = float(1 << self.precision)
            self._models = [
                constriction.stream.model.Categorical(self.freqs[d, : self.lengths[d]] / scale, perfect=False)
                for d in range(self.dim)
            ]
        return self._models

    def clip(self, symbols: np.ndarray) -> np.ndarray:
        """Clamp integer symbols (N, D) into each dimension's table range [o_d, o_d + L_d - 1]."""
        return np.clip(symbols, self.low, self.high)

    def quantize(self, latents: ArrayLike) -> np.ndarray:
        """ŷ = clip(round(y)) of float latents (N, D) as int64 symbols, clamped in float before the cast.

        Rounding and clamping to integer bounds commute, so clamping first is the same ŷ, and it keeps
        a latent beyond int64 (1e19, 3e38) at its end of the table instead of wrapping to INT64_MIN.

        Raises
        ------
        DataError
            A latent is NaN or infinite (the encoder overflowed): it has no symbol.
        """
        y = np.asarray(latents, dtype=np.float64)
        bad = ~np.isfinite(y).all(axis=tuple(range(1, y.ndim)))
        if bad.any():
            raise DataError(
                f"the encoder gave NaN or infinite latents for item(s) {np.flatnonzero(bad)[:10].tolist()} "
                f"of {len(y)}: their inputs are out of the model's range"
            )
        return np.rint(np.clip(y, self.low, self.high)).astype(np.int64)

    def quantize_indexed(self, latents: ArrayLike, table: ArrayLike) -> np.ndarray:
        """ŷ_i = clip(round(y_i)) into the range of table ``table[i]``, int64, latents (n,) (as :meth:`quantize`)."""
        y = np.asarray(latents, dtype=np.float64).ravel()
        table = np.asarray(table, np.int64).ravel()
        if not np.isfinite(y).all():
            raise DataError("the encoder gave NaN or infinite latents: its input is out of the model's range")
        return np.rint(np.clip(y, self.low[table], self.high[table])).astype(np.int64)

    def min_payload(self, count: int) -> int:
        """The fewest payload bytes ``count`` items can take: ⌊count·b / 8⌋ − FLUSH_BYTES (at least 0),
        b = :attr:`min_item_bits` = Σ_d ⌊−log2 max_s P_d(s)⌋, the bits of an item of most probable symbols."""
        return max(0, count * self.min_item_bits // 8 - FLUSH_BYTES)

    def sha256(self, fingerprint: bytes) -> str:
        """SHA-256 (hex) of the model ``fingerprint`` followed by the tables, each value a big-endian int64:
        precision, D, o_0..o_{D-1}, L_0..L_{D-1}, then f_0[0..L_0-1], f_1[0..L_1-1], ...

        ``codec.json`` carries it, so tables edited or taken from another model are refused on load.
        """
        used = np.arange(self.freqs.shape[1])[None, :] < self.lengths[:, None]
        digest = hashlib.sha256(bytes(fingerprint))
        for values in ([self.precision, self.dim], self.offsets, self.lengths, self.freqs[used]):
            digest.update(np.asarray(values, dtype=">i8").tobytes())
        return digest.hexdigest()

    def bits(self, symbols: np.ndarray) -> np.ndarray:
        """Ideal code length −Σ_d log2 P(s_d) of each item (N,), from the integer tables."""
        idx = np.asarray(symbols, dtype=np.int64) - self.offsets
        f = self.freqs[np.arange(self.dim)[None, :], idx]
        return (self.precision - np.log2(f)).sum(1)

    # -------------------------------------------------------------- coding
    def encode(self, symbols: ArrayLike) -> bytes:
        """Range-code integer symbols of shape (N, D) (each within its table range) into bytes.

        The payload is at least :meth:`min_payload` bytes long (zero-padded if need be).
        """
        symbols = np.asarray(symbols)
        if symbols.ndim != 2 or symbols.shape[1] != self.dim or len(symbols) == 0:
            raise ValueError(f"symbols must have shape (N >= 1, {self.dim}), got {symbols.shape}")
        idx = symbols.astype(np.int64) - self.offsets
        if (idx < 0).any() or (idx >= self.lengths).any():
            raise ValueError("symbols outside their table ranges: clip them first (Tables.clip)")
        groups = np.ascontiguousarray(idx.T, dtype=np.int32)  # (D, N), dimension-major: row d for table d
        data = self._trim(self._seal(groups), groups)
        return data + bytes(
            max(0, self.min_payload(len(symbols)) - len(data))
        )  # zero bytes decode as nothing

    def decode(self, payload: bytes, count: int) -> np.ndarray:
        """Inverse of :meth:`encode`: ``count`` items of D symbols, (count, D) int64.

        The payload ends exactly where :meth:`encode` ends it: the sealed words of the decoded
        symbols (possibly cut shorter, see :meth:`_trim`), then zero bytes up to
        :meth:`min_payload` at most. Any byte beyond is refused, so a stream cannot carry junk
        behind a valid message (its length and CRC recomputed).

        Raises
        ------
        BitstreamError
            The payload is shorter than ``count`` items can be (:meth:`min_payload`), longer than
            its symbols make it, or cannot be decoded with these tables.
        """
        if len(payload) < self.min_payload(count):
            raise BitstreamError(
                f"corrupt bitstream: {count} items take at least {self.min_payload(count)} bytes "
                f"of payload with this model's tables ({self.min_item_bits} bits per item, less "
                f"{FLUSH_BYTES} bytes), the stream has {len(payload)}"
            )
        groups = self._decode_groups(payload, np.full(self.dim, count, np.int64))
        self._check_end(payload, groups, self.min_payload(count), f"its {count} items")
        return np.ascontiguousarray(np.asarray(groups).T) + self.offsets

    # -------------------------------------------------------------- coding with a table per symbol
    def encode_indexed(self, symbols: ArrayLike, table: ArrayLike) -> bytes:
        """Range-code symbols (n,) where symbol i uses table ``table[i]`` (the hyperprior's scale index).

        The symbols are coded table by table (those of table 0 in their order, then table 1, ...),
        so the decoder, which knows ``table`` (it computed it from the side information), reads them
        back with :meth:`decode_indexed`. Each symbol must lie in its table's range
        (:meth:`quantize_indexed` makes them so).
        """
        symbols, table = np.asarray(symbols, np.int64).ravel(), np.asarray(table, np.int64).ravel()
        self._check_table_indices(table, len(symbols))
        idx = symbols - self.offsets[table]
        if (idx < 0).any() or (idx >= self.lengths[table]).any():
            raise ValueError("symbols outside their table ranges: quantise them with Tables.quantize_indexed")
        order = np.argsort(table, kind="stable")
        counts = np.bincount(table, minlength=self.dim)
        groups = np.split(idx[order], np.cumsum(counts)[:-1])
        data = self._trim(self._seal(groups), groups)
        return data + bytes(max(0, self.min_payload_of(counts) - len(data)))

    def decode_indexed(self, payload: bytes, table: ArrayLike) -> np.ndarray:
        """Inverse of :meth:`encode_indexed` given the same ``table`` (n,): the symbols (n,) int64.

        Raises
        ------
        BitstreamError
            The payload is shorter than these symbols can be, longer than they make it (junk behind
            them), or does not decode.
        """
        table = np.asarray(table, np.int64).ravel()
        self._check_table_indices(table, len(table))
        counts = np.bincount(table, minlength=self.dim)
        if len(payload) < self.min_payload_of(counts):
            raise BitstreamError(
                f"corrupt bitstream: {len(table)} symbols take at least {self.min_payload_of(counts)} "
                f"bytes of payload with these tables, the stream has {len(payload)}"
            )
        order = np.argsort(table, kind="stable")
        out = np.empty(len(table), np.int64)
        groups = self._decode_groups(payload, counts)
        self._check_end(payload, groups, self.min_payload_of(counts), f"its {len(table)} symbols")
        out[order] = np.concatenate([*groups, np.zeros(0, np.int64)])
        return out + self.offsets[table]

    def min_payload_of(self, counts: np.ndarray) -> int:
        """The fewest payload bytes for ``counts[d]`` symbols of table d: ⌊Σ_d counts_d·b_d / 8⌋ − FLUSH_BYTES."""
        return max(0, int(np.dot(np.asarray(counts, np.int64), self.min_bits)) // 8 - FLUSH_BYTES)

    def _check_table_indices(self, table: np.ndarray, n: int) -> None:
        if len(table) != n or n == 0 or table.min() < 0 or table.max() >= self.dim:
            raise ValueError(f"need one table index in 0..{self.dim - 1} per symbol, for 1.. symbols")

    # -------------------------------------------------------------- the range coder
    def _seal(self, groups: Groups) -> bytes:
        """The range coder's sealed words of ``groups[d]`` (table indices s − o_d, coded with table d,
        d = 0, 1, ...), as bytes, trailing zeros cut (:meth:`_trim` may cut more)."""
        import constriction

        encoder = constriction.stream.queue.RangeEncoder()
        models = self.models()
        if (
            isinstance(groups, np.ndarray) and groups.shape[1] == 1
        ):  # one item: plain ints, a third of the cost
            for symbol, model in zip(groups[:, 0].tolist(), models):
                encoder.encode(symbol, model)
        else:
            for d, group in enumerate(groups):
                if len(group):
                    encoder.encode(np.ascontiguousarray(group, dtype=np.int32), models[d])
        return encoder.get_compressed().astype(">u4").tobytes().rstrip(b"\0")

    def _check_end(self, payload: bytes, groups: Groups, min_payload: int, what: str) -> None:
        """Refuse bytes behind the decoded symbols' own payload: it ends where :meth:`_seal` ends it
        (or shorter, :meth:`_trim`), zero-padded up to ``min_payload`` at most."""
        end = len(self._seal(groups))
        if len(payload) > end and (len(payload) > min_payload or any(payload[end:])):
            raise BitstreamError(
                f"corrupt bitstream: {len(payload) - end} unexpected bytes after the {end}-byte payload of {what}"
            )

    def _decode_groups(self, payload: bytes, counts: np.ndarray) -> Groups:
        """Range-decode ``counts[d]`` table indices with table d, d = 0, 1, ... (one item: a (D, 1) array)."""
        import constriction

        groups: list[np.ndarray] = []
        try:
            decoder = constriction.stream.queue.RangeDecoder(_words(payload))
            models = self.models()
            if (counts == 1).all():  # one item: plain ints, half the cost of 1-element arrays
                idx = np.array([decoder.decode(m) for m in models], np.int64)
                if (idx < 0).any() or (idx >= self.lengths).any():
                    raise BitstreamError(
                        "corrupt bitstream: the payload decodes to symbols outside the tables"
                    )
                return idx[:, None]
            else:
                for d, model in enumerate(models):
                    count = int(counts[d])
                    groups.append(
                        np.asarray(decoder.decode(model, count), np.int64) if count else np.zeros(0, np.int64)
                    )
        except BitstreamError:
            raise
        except Exception as err:  # constriction reports invalid data with its own exception types
            raise BitstreamError(
                f"corrupt bitstream: the entropy-coded payload does not decode ({err})"
            ) from None
        for d, group in enumerate(groups):
            if len(group) and (group.min() < 0 or group.max() >= self.lengths[d]):
                raise BitstreamError("corrupt bitstream: the payload decodes to symbols outside the tables")
        return groups

    def _trim(self, data: bytes, groups: Groups) -> bytes:
        """Cut the sealed stream to whole bytes: the shortest prefix (zero-padded) that decodes the same.

        The range coder seals with whole 32-bit words; any point of its final interval decodes
        identically, so the encoder tries the two neighbours of the sealed value with fewer bytes
        and keeps one only if decoding it gives exactly the encoded symbols. Each try decodes the
        whole message, so only payloads up to ``_TRIM_UP_TO`` bytes are tried: a message of 1 or 10
        digits saves 1 to 3 of its 4 or 28 bytes, one of 10 000 digits 0 to 3 of 24 kB for an encode
        7x slower. Longer payloads lose their trailing zero bytes only (free: the decoder pads zeros).
        """
        best = data.rstrip(b"\0")
        if len(best) > _TRIM_UP_TO:
            return best
        counts = np.array([len(g) for g in groups], np.int64)
        for k in range(1, min(_MAX_TRIM, len(best)) + 1):
            prefix = best[:-k]
            candidates = [prefix]
            if prefix:
                up = int.from_bytes(prefix, "big") + 1
                if up < 1 << (8 * len(prefix)):
                    candidates.append(up.to_bytes(len(prefix), "big"))
            found = None
            for cand in candidates:
                cand = cand.rstrip(b"\0")
                try:
                    same = all(map(np.array_equal, self._decode_groups(cand, counts), groups))
                except BitstreamError:
                    same = False
                if same:
                    found = cand
                    break
            if found is None:
                break
            best = found
        return best


def _words(payload: bytes) -> np.ndarray:
    """Bytes -> the coder's uint32 words (big-endian, zero-padded to a multiple of 4 bytes)."""
    payload = bytes(payload)
    payload += b"\0" * (-len(payload) % 4)
    return np.frombuffer(payload, dtype=">u4").astype(np.uint32)
