import numpy as np
import pytest

from aekit.codec.coder import Tables
from aekit.errors import BitstreamError, DataError


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
    cols = [
        tables.offsets[d]
        + rng.choice(tables.lengths[d], n, p=tables.freqs[d, : tables.lengths[d]] / (1 << tables.precision))
        for d in range(tables.dim)
    ]
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


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(precision=30), "precision"),
        (dict(freqs_sum_off=True), "sum to"),
        (dict(length_one=True), "lengths must lie"),
    ],
)
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


# ---------------------------------------------------------------------- a payload bounds its item count
def test_an_empty_payload_cannot_claim_many_items():
    tables = make_tables()
    with pytest.raises(BitstreamError, match="at least"):
        tables.decode(b"", 65536)  # used to decode 65536 items of lowest symbols


def test_min_payload_is_the_most_probable_items_bits_less_the_flush():
    tables = make_tables()
    p_max = tables.freqs.max(1) / (1 << tables.precision)
    bits = int(np.floor(-np.log2(p_max)).sum())  # b = Σ_d ⌊−log2 max_s P_d(s)⌋
    assert tables.min_item_bits == bits
    assert tables.min_payload(1000) == 1000 * bits // 8 - 4
    assert tables.min_payload(1) == 0


@pytest.mark.parametrize("n", [1, 3, 50, 2000])
def test_every_encoded_message_meets_the_bound_even_one_the_coder_makes_empty(n):
    tables = make_tables()
    lowest = np.tile(tables.low, (n, 1))  # the coder's interval stays at 0: it writes nothing
    for symbols in (sample(tables, n), lowest):
        payload = tables.encode(symbols)
        assert len(payload) >= tables.min_payload(n)  # zero-padded when needed
        assert np.array_equal(tables.decode(payload, n), symbols)


# ---------------------------------------------------------------------- quantisation in float
def test_quantize_clamps_before_the_integer_cast():
    tables = make_tables(dim=3)
    y = np.array([[0.4, -0.6, 2.5], [1e19, -1e19, 3e38], [1e300, -1e300, 0.0]])
    got = tables.quantize(y)
    assert got[0].tolist() == tables.clip(np.rint(y[:1]).astype(np.int64))[0].tolist()
    assert got[1].tolist() == [tables.high[0], tables.low[1], tables.high[2]]  # not INT64_MIN -> lowest
    assert got[2].tolist() == [tables.high[0], tables.low[1], 0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_quantize_refuses_non_finite_latents(bad):
    tables = make_tables(dim=3)
    with pytest.raises(DataError, match=r"item\(s\) \[1\]"):
        tables.quantize(np.array([[0.0, 0.0, 0.0], [0.0, bad, 0.0]]))


# ---------------------------------------------------------------------- the tables' SHA-256
def test_tables_sha256_covers_the_fingerprint_and_every_frequency():
    tables = make_tables()
    fp = bytes(32)
    mirrored = tables.freqs.copy()
    for d, n in enumerate(tables.lengths):
        mirrored[d, :n] = mirrored[d, :n][::-1]  # same sums, other densities
    other = Tables(tables.offsets, tables.lengths, mirrored, tables.precision)
    assert tables.sha256(fp) == make_tables().sha256(fp)
    assert tables.sha256(fp) != other.sha256(fp)
    assert tables.sha256(fp) != tables.sha256(b"\1" + fp[1:])


# ---------------------------------------------------------------------- trimming stays cheap
def test_only_short_payloads_are_re_decoded_to_trim_them(monkeypatch):
    tables = make_tables()
    calls = []
    original = Tables._decode_groups
    monkeypatch.setattr(Tables, "_decode_groups", lambda self, *a: (calls.append(1), original(self, *a))[1])
    long = sample(tables, 3000)
    assert len(tables.encode(long)) > 1024
    assert calls == []  # saving <= 8 bytes of kilobytes is not worth full decodes
    tables.encode(sample(tables, 3))
    assert calls  # a short message still loses its spare bytes


# ---------------------------------------------------------------------- the payload's end is exact
@pytest.mark.parametrize("n", [1, 3, 50, 2000])
@pytest.mark.parametrize("junk", [b"\x00" * 8 + b"\x07", b"\xff" * 9, bytes(range(1, 40))])
def test_junk_after_a_valid_payload_is_refused(n, junk):
    """The encoder cuts at most 8 bytes off the coder's sealed words: 9 bytes more are always junk."""
    tables = make_tables()
    payload = tables.encode(sample(tables, n, seed=n))
    with pytest.raises(BitstreamError, match="unexpected bytes after"):
        tables.decode(payload + junk, n)


@pytest.mark.parametrize("n", [1, 3, 50, 2000])
def test_one_byte_after_the_sealed_payload_is_refused(n):
    tables = make_tables()
    symbols = sample(tables, n, seed=n)
    sealed = tables._seal(np.ascontiguousarray((symbols - tables.offsets).T))
    assert np.array_equal(tables.decode(sealed, n), symbols)  # the coder's own words, uncut
    with pytest.raises(BitstreamError, match="unexpected bytes after"):
        tables.decode(sealed + b"\x01", n)


@pytest.mark.parametrize("n", [1, 50, 2000])
def test_zero_bytes_beyond_the_minimum_payload_are_refused(n):
    tables = make_tables()
    lowest = np.tile(tables.low, (n, 1))  # the coder writes nothing: the payload is all padding
    payload = tables.encode(lowest)
    assert np.array_equal(tables.decode(payload, n), lowest)
    with pytest.raises(BitstreamError, match="unexpected bytes after"):
        tables.decode(payload + bytes(1), n)
    with pytest.raises(BitstreamError, match="unexpected bytes after"):
        tables.decode(payload + bytes(1 << 20), n)


def test_one_item_is_coded_with_plain_ints_to_the_same_bytes():
    """The one-item fast path (ints, not one-element arrays) writes and reads what the array path does."""
    import constriction

    tables = make_tables(dim=16, width=40, precision=16)
    for seed in range(50):
        symbols = sample(tables, 1, seed=seed)
        idx = np.ascontiguousarray((symbols - tables.offsets).T)
        encoder = constriction.stream.queue.RangeEncoder()
        for d, model in enumerate(tables.models()):
            encoder.encode(idx[d].astype(np.int32), model)
        words = encoder.get_compressed().astype(">u4").tobytes().rstrip(b"\0")
        assert tables._seal(idx) == words
        assert np.array_equal(tables.decode(words, 1), symbols)
