"""The scale-hyperprior codec: integer h_s, the Gaussian tables, coding, and bit-exact decoding across
runtimes (torch / onnxruntime), thread counts and batch sizes, on photos of odd sizes."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from aekit.codec.device_hyper import HyperDeviceDecoder, HyperDeviceEncoder
from aekit.codec.gaussian import LEVELS, SCALE_MAX, SCALE_MIN, GaussianConditional, scale_table
from aekit.codec.hyper_message import decode_hyper_symbols
from aekit.codec.hyper_synthesis import HyperSynthesis
from aekit.codec.hyperprior import HyperpriorCodec
from aekit.codec.intnet import IntegerLayer, IntegerNet, _conv, _conv_transposed
from aekit.errors import BitstreamError

SIZES = [(1, 1), (17, 33), (65, 64)]


def _perturbed(module: torch.nn.Module, scale: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


@pytest.fixture(scope="module")
def hyper():
    """A tiny hyperprior codec whose h_s spreads its indices (random weights), with its tables."""
    torch.manual_seed(0)
    codec = HyperpriorCodec(3, N=8, M=12)
    _perturbed(codec.h_s, 0.3, 1)
    _perturbed(codec.h_a, 0.3, 2)
    return codec.update().eval()


@pytest.fixture(scope="module")
def hyper_dir(hyper, tmp_path_factory):
    return hyper.save(tmp_path_factory.mktemp("hyper") / "codec", export=True)


def photo(h, w, c=3, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, h * w * c).reshape(h, w, c)
    return np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------- the integer network
@pytest.mark.parametrize("blas", [False, True])
def test_integer_convolutions_equal_torch_in_float64(blas):
    rng = np.random.default_rng(0)
    u = rng.integers(-50, 50, (2, 3, 5, 7))
    w = rng.integers(-99, 99, (4, 3, 5, 5))
    expected = F.conv_transpose2d(
        torch.from_numpy(u).double(), torch.from_numpy(w).double().transpose(0, 1), None, 2, 2, 1
    )
    assert np.array_equal(_conv_transposed(u, w, blas), expected.long().numpy())
    w3 = rng.integers(-99, 99, (6, 3, 3, 3))
    expected = F.conv2d(torch.from_numpy(u).double(), torch.from_numpy(w3).double(), None, 1, 1)
    assert np.array_equal(_conv(u, w3, blas), expected.long().numpy())


def test_the_float64_surrogate_equals_the_integer_network_exactly():
    torch.manual_seed(0)
    hs = HyperSynthesis(8, 12, LEVELS)
    _perturbed(hs, 0.2, 3)
    net = hs.integer_net(30)
    z = torch.randint(-30, 31, (3, 8, 4, 5))
    indices = net(z.numpy())
    with torch.no_grad():
        surrogate = hs.double()(z.double()).long().numpy()
    assert indices.shape == (3, 12, 16, 20) and indices.dtype == np.int64
    assert len(np.unique(indices)) > 5  # the check covers many indices, not one
    assert np.array_equal(indices, surrogate)


def test_weights_that_could_overflow_int64_are_refused():
    big = IntegerLayer(np.full((2, 2, 3, 3), 1 << 40, np.int64), np.zeros(2, np.int64), 8, False, True)
    with pytest.raises(ValueError, match="overflow"):
        IntegerNet([big], 63, 1 << 20)
    ok = IntegerNet([big], 63, 1)  # the bound follows the input range
    with pytest.raises(ValueError, match="exceeds"):
        ok(np.full((1, 2, 2, 2), 2, np.int64))


def test_integer_net_state_round_trips_and_is_checked():
    torch.manual_seed(0)
    net = HyperSynthesis(4, 6, LEVELS).integer_net(10)
    again = IntegerNet.from_state(net.state())
    z = np.random.default_rng(0).integers(-10, 11, (1, 4, 3, 2))
    assert np.array_equal(net(z), again(z))
    state = net.state()
    state["layer0.meta"] = np.array([0, 1, 1], np.int64)  # shift 0
    with pytest.raises(ValueError, match="shift"):
        IntegerNet.from_state(state)


# ---------------------------------------------------------------------- the Gaussian tables
def test_scale_table_and_integer_tables():
    table = scale_table()
    assert len(table) == LEVELS == 64
    assert float(table[0]) == pytest.approx(SCALE_MIN) and float(table[-1]) == pytest.approx(SCALE_MAX)
    gc = GaussianConditional().update()
    tables = gc.tables()
    assert tables.dim == 64 and (tables.freqs.sum(1) == 1 << 16).all()
    assert (tables.lengths[1:] >= tables.lengths[:-1]).all()  # wider scales keep more symbols
    # the table of a scale matches the density: −log2 P(0 | σ_j) from the integers vs the formula
    # (within 0.1 bit: the quantiser gives each symbol one count at least and the most probable the rest)
    for j, tolerance in ((0, 0.01), (20, 0.1), (40, 0.1), (63, 0.1)):
        sigma = float(table[j])
        p0 = torch.erf(torch.tensor(0.5 / sigma / 2**0.5, dtype=torch.float64)).item()
        f0 = tables.freqs[j, -tables.offsets[j]]
        assert abs(np.log2(f0 / 2**16) - np.log2(p0)) < tolerance


def test_indexed_coding_round_trips_with_a_table_per_symbol():
    tables = GaussianConditional().update().tables()
    rng = np.random.default_rng(0)
    j = rng.integers(0, 64, 500)
    y = rng.normal(0, tables.high[j] / 6)
    symbols = tables.quantize_indexed(y, j)
    payload = tables.encode_indexed(symbols, j)
    assert np.array_equal(tables.decode_indexed(payload, j), symbols)
    with pytest.raises(BitstreamError):
        tables.decode_indexed(payload[: len(payload) // 3], j)
    for junk in (b"\x01" * 8, b"\0" * 64, bytes(range(1, 200))):  # beyond the sealed words of the symbols
        with pytest.raises(BitstreamError, match="unexpected bytes after"):
            tables.decode_indexed(payload + junk, j)


# ---------------------------------------------------------------------- the codec
def test_rate_distortion_trains_every_part(hyper):
    codec = HyperpriorCodec(3, N=8, M=12).train()
    mse, bpp = codec.rate_distortion(torch.rand(2, 3, 64, 64))
    (mse + bpp).backward()
    for name in ("g_a", "g_s", "h_a", "h_s", "entropy_bottleneck"):
        grads = [p.grad for p in getattr(codec, name).parameters()]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads), name


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_of_odd_sizes(size, channels):
    torch.manual_seed(0)
    codec = HyperpriorCodec(channels, N=8, M=12).update().eval()
    image = photo(*size, channels)
    data = codec.compress(image)
    assert data[:2] == b"\xae\x04"
    z, j, y = codec.symbols(image)
    z2, j2, y2, height, width = decode_hyper_symbols(data, codec.hyper_tables, codec.fingerprint, channels)
    assert (height, width) == size
    assert np.array_equal(z, z2) and np.array_equal(j, j2) and np.array_equal(y, y2)
    assert codec.decompress(data).shape == (*size, channels)


def test_estimated_bits_are_close_to_the_stream(hyper):
    image = photo(64, 96)
    data = hyper.compress(image)
    assert abs(hyper.estimated_bits(image) / 8 - len(data)) < 0.1 * len(data) + 30


def test_save_load_keeps_the_fingerprint_and_the_streams(hyper, hyper_dir):
    loaded = HyperpriorCodec.load(hyper_dir)
    assert loaded.fingerprint == hyper.fingerprint
    image = photo(17, 33)
    assert loaded.compress(image) == hyper.compress(image)


# ---------------------------------------------------------------------- bit-exact across runtimes
@pytest.mark.parametrize("size", SIZES)
def test_symbols_decode_identically_across_runtimes_threads_and_batches(hyper, hyper_dir, size):
    """Encode with torch and with onnxruntime (1 and 2 threads, batch 1 and 3), decode each stream with
    torch and with onnxruntime (1 and 2 threads): every ẑ, every scale index and every ŷ equal."""
    images = [photo(*size, seed=s) for s in range(3)]
    encoders = {
        "torch": hyper,
        "ort1": HyperDeviceEncoder(hyper_dir, threads=1),
        "ort2": HyperDeviceEncoder(hyper_dir, threads=2),
    }
    decoders = {
        "torch": lambda d: decode_hyper_symbols(d, hyper.hyper_tables, hyper.fingerprint, 3),
        "ort1": HyperDeviceDecoder(hyper_dir, threads=1),
        "ort2": HyperDeviceDecoder(hyper_dir, threads=2),
    }
    decoded = 0
    for name, encoder in encoders.items():
        batched = encoder.compress_batch(images)
        for b, image in enumerate(images):
            z, j, y = encoder.symbols(image)
            for data in (encoder.compress(image), batched[b]):
                for dname, decoder in decoders.items():
                    if dname == "torch":
                        z2, j2, y2, _, _ = decoder(data)
                    else:
                        z2, j2, y2, _, _ = decode_hyper_symbols(data, decoder.tables, decoder.fingerprint, 3)
                        assert decoder.decompress(data).shape == (*size, 3)
                    assert np.array_equal(z, z2), (name, dname)
                    assert np.array_equal(j, j2), (name, dname)
                    assert np.array_equal(y, y2), (name, dname)
                    decoded += 1
    assert decoded == 3 * 3 * 2 * 3


def test_onnx_halves_match_torch(hyper, hyper_dir):
    image = photo(65, 64)
    device = HyperDeviceEncoder(hyper_dir)
    x = torch.from_numpy(__import__("aekit.codec.pixels", fromlist=["to_input"]).to_input(image))
    y_t, z_t = hyper.analyse(x)
    y_o, z_o = device.analyse(x.numpy())
    assert np.abs(y_t - y_o).max() < 1e-3 and np.abs(z_t - z_o).max() < 1e-3
    data = hyper.compress(image)
    torch_image = hyper.decompress(data)
    onnx_image = HyperDeviceDecoder(hyper_dir).decompress(data)
    assert np.abs(torch_image.astype(int) - onnx_image.astype(int)).max() <= 1


def test_device_side_runs_without_torch(hyper_dir, tmp_path):
    import subprocess
    import sys

    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked")
sys.meta_path.insert(0, Block())
import numpy as np
from aekit.codec import HyperDeviceEncoder, HyperDeviceDecoder
image = (np.arange(17 * 33 * 3) % 251).astype(np.uint8).reshape(17, 33, 3)
data = HyperDeviceEncoder({str(hyper_dir)!r}).compress(image)
print(HyperDeviceDecoder({str(hyper_dir)!r}).decompress(data).shape, "torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(17, 33, 3) False"


def test_a_stream_of_another_format_or_model_is_refused(hyper):
    data = hyper.compress(photo(17, 33))
    other = HyperpriorCodec(3, N=8, M=12).update().eval()
    with pytest.raises(BitstreamError, match="wrong model"):
        other.decompress(data)
    from aekit.codec.photo import PhotoCodec

    photo_codec = PhotoCodec(3, 8, 12).update().eval()
    with pytest.raises(BitstreamError, match="hyperprior"):
        photo_codec.decompress(data)
    with pytest.raises(BitstreamError, match="factorized"):
        hyper.decompress(photo_codec.compress(photo(17, 33)))


def test_tiles_with_context_code_and_decode_as_the_whole_photo(hyper, hyper_dir):
    """g_a and g_s by 32-px tiles with context (aekit.codec.tiling) on both sides: the same y up to float
    rounding, a stream that decodes to the whole-photo decode's pixels (within one level)."""
    image = photo(80, 100)
    y_whole, _ = hyper.analyse_tiled(image, 0)
    y_tiles, _ = hyper.analyse_tiled(image, 32)
    assert np.abs(y_whole - y_tiles).max() < 1e-4
    data = hyper.compress(image, tile=32)
    whole = hyper.decompress(data, tile=0).astype(int)
    for decoded in (hyper.decompress(data, tile=32), HyperDeviceDecoder(hyper_dir).decompress(data, tile=32)):
        assert np.abs(decoded.astype(int) - whole).max() <= 1
    device = HyperDeviceEncoder(hyper_dir).compress(image, tile=32)  # onnxruntime's g_a, by tiles
    symbols_device, symbols_torch = (hyper.decompress_symbols(d)[0] for d in (device, data))
    assert symbols_device.shape == symbols_torch.shape and (symbols_device == symbols_torch).mean() > 0.99
