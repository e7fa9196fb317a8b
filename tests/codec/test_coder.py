import numpy as np
import pytest

from aekit.codec.coder import Tables
from aekit.errors import BitstreamError


def make_tables(dim=5, width=12, precision=12, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, width + 1, dim)
    freqs = np.zeros((dim, width), dtype=np.int64)
    for d, n in enumerate(lengths):
        p = rng.dirichlet(np.ones(n))
        f = 1 + np.floor(p * ((1 << precision) - n)).astype(np.int64)
        f[0] += (1 << precision) - f.sum()
        freqs[d, :n] = f
    return Tables(-(lengths // 2), lengths, freqs, precision)


def sample(tables, n, seed=1):
    rng = np.random.default_rng(seed)
    cols = [tables.offsets[d] + rng.choice(tables.lengths[d], n, p=tables.freqs[d, :tables.lengths[d]] /
                                            (1 << tables.precision)) for d in range(tables.dim)]
    return np.stack(cols, 1)


@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_encode_decode_round_trip(n):
    tables = make_tables()
    symbols = sample(tables, n, seed=n)
    payload = tables.encode(symbols)
    assert np.array_equal(tables.decode(payload, n), symbols)


def test_payload_is_close_to_the_ideal_code_length():
    tables = make_tables()
    symbols = sample(tables, 2000)
    ideal = tables.bits(symbols).sum() / 8
    assert ideal <= len(tables.encode(symbols)) <= ideal * 1.01 + 8


def test_symbols_outside_the_tables_are_rejected_and_clip_fixes_them():
    tables = make_tables()
    symbols = sample(tables, 3)
    symbols[0, 0] = tables.high[0] + 5
    with pytest.raises(ValueError, match="outside their table"):
        tables.encode(symbols)
    clipped = tables.clip(symbols)
    assert clipped[0, 0] == tables.high[0]
    assert np.array_equal(tables.decode(tables.encode(clipped), 3), clipped)


@pytest.mark.parametrize("bad, match", [
    (dict(precision=30), "precision"),
    (dict(freqs_sum_off=True), "sum to"),
    (dict(length_one=True), "lengths must lie"),
])
def test_invalid_tables_are_refused(bad, match):
    t = make_tables()
    freqs, lengths = t.freqs.copy(), t.lengths.copy()
    if bad.get("freqs_sum_off"):
        freqs[1, 0] += 1
    if bad.get("length_one"):
        lengths[0] = 1
    with pytest.raises(ValueError, match=match):
        Tables(t.offsets, lengths, freqs, bad.get("precision", t.precision))


def test_garbage_payload_decodes_to_in_range_symbols_or_raises():
    tables = make_tables()
    rng = np.random.default_rng(3)
    for _ in range(20):
        payload = rng.integers(0, 256, rng.integers(0, 12), dtype=np.uint8).tobytes()
        try:
            out = tables.decode(payload, 4)
        except BitstreamError:
            continue
        assert ((out >= tables.low) & (out <= tables.high)).all()
