"""The photo codec: GDN, any image size, RGB and grayscale, bounded reads, checkpoints."""

import math

import numpy as np
import pytest
import torch

from aekit.codec import pixels
from aekit.codec.gdn import GDN
from aekit.codec.photo import PhotoCodec
from aekit.errors import BitstreamError, CheckpointError, DataError


def make_codec(channels: int = 3, seed: int = 0) -> PhotoCodec:
    torch.manual_seed(seed)
    return PhotoCodec(channels, 8, 12).update()


def photo(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth synthetic photo (gradients and a disc) of h×w pixels."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 2)
    planes = [(0.5 + 0.4 * np.sin(3 * xx + k) * np.cos(2 * yy)) for k in range(c)]
    return np.rint(np.stack(planes, -1) * 255).astype(np.uint8)


def test_gdn_is_the_formula_and_inverse_gdn_its_product():
    torch.manual_seed(0)
    gdn, igdn = GDN(4), GDN(4, inverse=True)
    x = torch.randn(2, 4, 3, 5)
    beta = gdn.beta_reparam(gdn.beta)
    gamma = gdn.gamma_reparam(gdn.gamma)
    norm = beta[None, :, None, None] + torch.einsum("ij,njhw->nihw", gamma, x * x)
    assert torch.allclose(gdn(x), x / torch.sqrt(norm), atol=1e-6)
    assert torch.allclose(igdn(x), x * torch.sqrt(norm), atol=1e-5)
    assert torch.allclose(beta, torch.ones(4), atol=1e-6)  # β starts at 1, γ at 0.1·I
    assert torch.allclose(gamma, 0.1 * torch.eye(4), atol=1e-6)


def test_gdn_parameters_stay_non_negative_and_beta_bounded():
    gdn = GDN(3)
    with torch.no_grad():
        gdn.beta.fill_(-5.0)
        gdn.gamma.fill_(-5.0)
    assert gdn.beta_reparam(gdn.beta).min() >= 1e-6 - 1e-9
    assert gdn.gamma_reparam(gdn.gamma).min() >= 0
    # at the bound, a gradient that raises the value still passes (the parameter is not stuck)
    v = torch.full((3,), -5.0, requires_grad=True)
    (-gdn.beta_reparam(v).sum()).backward()
    assert (v.grad != 0).all()


@pytest.mark.parametrize("size", [(1, 1), (17, 33), (65, 64)])
@pytest.mark.parametrize("channels", [3, 1])
def test_any_size_round_trips_rgb_and_grayscale(size, channels):
    codec = make_codec(channels)
    image = photo(*size, channels)
    data = codec.compress(image)
    out = codec.decompress(data)
    assert out.shape == (*size, channels) and out.dtype == np.uint8
    symbols, h, w = codec.decompress_symbols(data)
    assert (h, w) == size
    assert np.array_equal(symbols, codec.tables.quantize(codec.latents(image)))
    assert symbols.shape == (math.ceil(size[0] / 16) * math.ceil(size[1] / 16), 12)
    assert codec.compress(image) == data  # deterministic
    if channels == 1:
        assert codec.decompress(codec.compress(image[:, :, 0])).shape == (*size, 1)


def test_padding_repeats_edges_and_cropping_undoes_it():
    image = photo(17, 33)
    x = pixels.to_input(image)
    assert x.shape == (1, 3, 32, 48)
    assert np.array_equal(x[0, :, 17:, :33], np.repeat(x[0, :, 16:17, :33], 15, axis=1))
    assert np.array_equal(pixels.to_image(x[0], 17, 33), image)


def test_training_lowers_the_loss_and_rounding_is_what_the_decoder_sees(one_thread):
    from aekit.codec.photo_training import PhotoSet, train_photo_codec

    images = [photo(40, 56, seed=s) for s in range(3)]
    logged = []
    codec = train_photo_codec(
        {"N": 8, "M": 12}, PhotoSet(images), lmbda=0.01, steps=30, batch_size=2, crop=32, lr=3e-3,
        log_every=10, log=logged.append,
    )  # fmt: skip
    assert len(logged) == 3 and codec.updated and not codec.training
    assert codec.history["loss"][-1] < codec.history["loss"][0]
    assert codec.decompress(codec.compress(images[0])).shape == images[0].shape


def test_training_resumes_bit_exactly(tmp_path, one_thread):
    from aekit.codec.photo_training import PhotoSet, train_photo_codec

    images = PhotoSet([photo(40, 56, seed=s) for s in range(2)])
    kw = dict(lmbda=0.01, batch_size=2, crop=32, lr=1e-3, log=None)
    whole = train_photo_codec({"N": 8, "M": 8}, images, steps=6, checkpoint_dir=tmp_path / "a", **kw)
    train_photo_codec({"N": 8, "M": 8}, images, steps=3, checkpoint_dir=tmp_path / "b", **kw)
    resumed = train_photo_codec(None, images, steps=6, checkpoint_dir=tmp_path / "b", **kw)
    assert resumed.history["step"][-1] == 6
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_save_load_keeps_the_fingerprint_and_decodes_the_same(tmp_path):
    codec = make_codec()
    image = photo(30, 20)
    data = codec.compress(image)
    codec.save(tmp_path / "m")
    again = PhotoCodec.load(tmp_path / "m")
    assert again.fingerprint == codec.fingerprint
    assert np.array_equal(again.decompress(data), codec.decompress(data))
    with pytest.raises(BitstreamError, match="wrong model|CRC"):
        make_codec(seed=1).decompress(data)
    with pytest.raises(CheckpointError):
        PhotoCodec.load(tmp_path / "nothing")


def test_bad_arguments_and_inputs_are_named():
    with pytest.raises(ValueError, match="channels"):
        PhotoCodec(2)
    with pytest.raises(ValueError, match="N must"):
        PhotoCodec(3, 0)
    codec = make_codec()
    with pytest.raises(DataError, match=r"\(H, W, 3\)"):
        codec.compress(np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        codec.compress(np.full((4, 4, 3), 2.0))


def test_image_files_are_bounded_before_decoding(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    def png_declaring(width: int, height: int) -> bytes:
        header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        return (
            b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
        )

    (tmp_path / "huge.png").write_bytes(png_declaring(100000, 100000))
    with pytest.raises(DataError, match="larger than"):
        pixels.read_image(tmp_path / "huge.png")
    with pytest.raises(DataError, match="10000×10000 pixels, larger than"):  # under Pillow's bound, over ours
        pixels.read_image(png_declaring(10000, 10000), max_pixels=1 << 20)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DataError, match="not an image"):
        pixels.read_image(tmp_path / "text.png")
    from PIL import Image

    Image.fromarray(photo(64, 64)).save(tmp_path / "ok.jpg", quality=90)
    full = (tmp_path / "ok.jpg").read_bytes()
    assert pixels.read_image(full).shape == (64, 64, 3)
    with pytest.raises(DataError, match="truncated or damaged"):
        pixels.read_image(full[: len(full) // 2])
    assert pixels.read_image(tmp_path / "ok.jpg", 1).shape == (64, 64, 1)
