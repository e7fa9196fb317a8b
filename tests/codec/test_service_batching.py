"""The service's Batcher: concurrent small requests share one decoder pass, each gets its own rows."""

import asyncio
import io

import numpy as np
import pytest

from aekit.codec import Codec, create_app
from aekit.codec.service import Batcher

try:  # starlette's preferred client (Python >= 3.11); httpx before it
    import httpx2 as httpx
except ImportError:
    import httpx

OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def cpu_codec(codec_dir):
    return Codec.load(codec_dir)


def test_one_turn_is_one_batch_and_each_request_gets_its_rows(cpu_codec, test_items):
    batcher = Batcher(cpu_codec)
    parts = [cpu_codec.symbols(test_items[i : i + n]) for i, n in ((0, 1), (1, 3), (4, 2), (6, 1))]

    async def main():
        return await asyncio.gather(*(batcher.decode(s) for s in parts))

    rows = asyncio.run(main())
    assert (batcher.batches, batcher.items) == (1, 4)
    together = cpu_codec.dequantize(np.concatenate(parts))
    assert np.array_equal(np.concatenate(rows), together)  # the rows of one pass, in request order
    for got, symbols in zip(rows, parts):
        assert got.shape == (len(symbols), 64)
        np.testing.assert_allclose(got, cpu_codec.dequantize(symbols), atol=1e-5)  # float rounding at most


def test_a_lone_request_is_decoded_alone_and_exactly(cpu_codec, test_items):
    batcher = Batcher(cpu_codec)
    symbols = cpu_codec.symbols(test_items[:2])

    async def main():
        first = await batcher.decode(symbols)
        second = await batcher.decode(symbols)  # the next turn: a batch of its own
        return first, second

    first, second = asyncio.run(main())
    assert (batcher.batches, batcher.items) == (2, 2)
    assert np.array_equal(first, cpu_codec.dequantize(symbols)) and np.array_equal(first, second)


def test_batches_are_bounded(cpu_codec, test_items):
    batcher = Batcher(cpu_codec, max_symbols=3 * 8)  # 8 latents per item: 3 items per batch
    parts = [cpu_codec.symbols(test_items[i : i + 1]) for i in range(7)]

    async def main():
        return await asyncio.gather(*(batcher.decode(s) for s in parts))

    rows = asyncio.run(main())
    assert (batcher.batches, batcher.items) == (3, 7)  # 3 + 3 + 1
    for got, symbols in zip(rows, parts):
        np.testing.assert_allclose(got, cpu_codec.dequantize(symbols), atol=1e-5)


def test_a_failing_pass_fails_its_requests_and_the_next_turn_works(cpu_codec, test_items, monkeypatch):
    batcher = Batcher(cpu_codec)
    symbols = cpu_codec.symbols(test_items[:1])

    def broken(_):
        raise RuntimeError("decoder exploded")

    async def burst():
        return await asyncio.gather(batcher.decode(symbols), batcher.decode(symbols), return_exceptions=True)

    with monkeypatch.context() as m:
        m.setattr(cpu_codec, "dequantize", broken)
        errors = asyncio.run(burst())
    assert [str(e) for e in errors] == ["decoder exploded"] * 2
    again = asyncio.run(burst())  # the same burst, one pass of 2 rows
    assert np.array_equal(np.concatenate(again), cpu_codec.dequantize(np.concatenate([symbols, symbols])))


@pytest.mark.parametrize("batching", [True, False])
def test_concurrent_requests_through_the_app(codec_dir, cpu_codec, test_items, batching):
    app = create_app([codec_dir], batching=batching)
    bodies = [cpu_codec.compress(test_items[i : i + 1]) for i in range(12)]
    bad = bytearray(bodies[0])
    bad[-1] ^= 0xFF  # a corrupt stream in the same burst

    async def main():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://aekit") as client:
                return await asyncio.gather(
                    *(client.post("/v1/decode", content=b, headers=OCTET) for b in [*bodies, bytes(bad)])
                )

    answers = asyncio.run(main())
    assert [r.status_code for r in answers] == [200] * 12 + [400]
    for r, body in zip(answers, bodies):
        np.testing.assert_allclose(
            np.load(io.BytesIO(r.content), allow_pickle=False), cpu_codec.decompress(body), atol=1e-5
        )
    batchers = app.state.service.batchers
    if batching:
        (batcher,) = batchers.values()
        assert batcher.items == 12 and batcher.batches < 12  # the burst shared decoder passes
    else:
        assert batchers == {}
