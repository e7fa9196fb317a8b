"""ConvDenoiser (RED-Net skips, residual x̂ = y − f(y)), blind Gaussian q_D, patches, tiles, shipped models."""

import numpy as np
import pytest
import torch

import aekit
from aekit import corruption
from aekit.data.patches import PatchBatches, load_uint8_images, patch_loader
from aekit.denoising import load_pretrained_denoiser, pretrained_denoisers
from aekit.errors import DataError
from aekit.nn import ConvDenoiser
from aekit.nn.denoisers import BlindGaussian, denoise, parse_noise


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def _smooth_image(h: int, w: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A smooth synthetic photo: a few low-frequency sinusoids, in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = []
    for _ in range(channels):
        f = rng.uniform(1, 4, size=(3, 2))
        p = sum(np.sin(2 * np.pi * (a * yy + b * xx) + rng.uniform(0, 6)) for a, b in f)
        planes.append(0.5 + 0.4 * p / 3)
    return np.stack(planes).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(37, 53), (5, 7), (64, 64)])
def test_any_size_and_channels_give_the_input_shape(channels, size):
    model = ConvDenoiser(channels, (4, 8, 8), depth=1).eval()
    y = torch.rand(2, channels, *size)
    with torch.no_grad():
        assert model(y).shape == y.shape


def test_residual_estimate_is_input_minus_predicted_noise():
    model = ConvDenoiser(1, (4, 8), residual=True).eval()
    y = torch.rand(1, 1, 20, 24)
    with torch.no_grad():
        torch.testing.assert_close(model(y), y - model.noise(y))
    direct = ConvDenoiser(1, (4, 8), residual=False).eval()
    with torch.no_grad():
        torch.testing.assert_close(direct(y), direct.noise(y))


def test_skips_change_the_output_and_save_load_round_trips(tmp_path):
    torch.manual_seed(0)
    model = ConvDenoiser(3, (4, 8, 8), skips=True, sigma_range=(0, 55)).eval()
    y = torch.rand(1, 3, 33, 41)
    aekit.save(model, tmp_path / "m")
    loaded = aekit.load(tmp_path / "m").eval()
    assert isinstance(loaded, ConvDenoiser) and loaded.config == model.config
    assert isinstance(loaded.corruption, BlindGaussian) and loaded.corruption.high == 55.0
    with torch.no_grad():
        torch.testing.assert_close(loaded(y), model(y))
        no_skips = ConvDenoiser(3, (4, 8, 8), skips=False).eval()
        no_skips.load_state_dict(model.state_dict())
        assert not torch.allclose(no_skips(y), model(y))


def test_blind_gaussian_draws_one_sigma_per_patch_in_range():
    q = BlindGaussian(10, 30)
    x = torch.full((400, 1, 32, 32), 0.5)
    noise = (q(x, generator=torch.Generator().manual_seed(0)) - x) * 255
    sigmas = noise.flatten(1).std(1)
    assert sigmas.min() > 9 and sigmas.max() < 31
    assert sigmas.std() > 4  # one level per patch, not one for the batch
    assert q(x).shape == x.shape


@pytest.mark.parametrize(
    ("spec", "sigma", "clip"),
    [
        ("gaussian:25/255", 25 / 255, False),
        ("gaussian:0.1", 0.1, False),
        ("gaussian:25/255:clip", 25 / 255, True),
    ],
)
def test_parse_noise_reads_fractions_and_does_not_clip_by_default(spec, sigma, clip):
    q = parse_noise(spec)
    assert isinstance(q, corruption.Gaussian)
    assert q.sigma == pytest.approx(sigma) and q.clip is clip


def test_parse_noise_other_kinds_and_errors():
    assert isinstance(parse_noise("saltpepper:0.1"), corruption.SaltAndPepper)
    assert isinstance(parse_noise("masking:0.25"), corruption.Masking)
    with pytest.raises(ValueError, match="25/0"):
        parse_noise("gaussian:25/0")
    with pytest.raises(ValueError, match="unknown corruption"):
        parse_noise("speckle:0.1")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_channels": 2}, "in_channels must be 1"),
        ({"channels": ()}, "channels must be"),
        ({"depth": 0}, "depth"),
        ({"kernel_size": 4}, "kernel_size"),
        ({"pool_size": 1}, "pool_size"),
        ({"corruption": "gaussian:0.1", "sigma_range": (0, 55)}, "not both"),
        ({"sigma_range": (30, 10)}, "sigma_range"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvDenoiser(**{"in_channels": 1, **kwargs})


def test_wrong_channels_is_a_data_error():
    with pytest.raises(DataError, match=r"\(N, 1, H, W\)"):
        ConvDenoiser(1, (4,))(torch.rand(1, 3, 8, 8))


def test_tiles_give_the_whole_image_result_when_they_cover_the_receptive_field():
    torch.manual_seed(0)
    model = ConvDenoiser(1, (8,), depth=1).eval()  # receptive field 5x5: an overlap of 4 covers it
    image = np.random.default_rng(0).random((1, 40, 50), dtype=np.float32)
    whole = denoise(model, image, tile=1000)
    tiled = denoise(model, image, tile=16, overlap=4)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert denoise(model, image[0], tile=16, overlap=4).shape == (40, 50)
    with pytest.raises(ValueError, match="overlap"):
        denoise(model, image, tile=8, overlap=4)


def test_tiles_are_the_windows_of_aekit_tiles_each_cropped_to_its_box():
    """denoise() runs the model on the windows of :func:`aekit.tiles.windows` (boxes of tile − 2·overlap)
    and keeps each box: exactly the model's output on that window, cropped."""
    from aekit.tiles import windows

    torch.manual_seed(0)
    model = ConvDenoiser(1, (8,), depth=1).eval()
    image = np.random.default_rng(1).random((1, 40, 50), dtype=np.float32)
    seen = []
    hook = model.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape[-2:])))
    try:
        tiled = denoise(model, image, tile=16, overlap=4)
    finally:
        hook.remove()
    tiles = windows(40, 50, 16 - 2 * 4, 4)
    assert seen == [(b - t, r - left) for t, left, b, r in (w.window for w in tiles)]
    with torch.inference_mode():
        for w in tiles:
            (top, left, bottom, right), (t0, l0, t1, l1) = w.box, w.window
            est = model(torch.from_numpy(image[None, :, t0:t1, l0:l1].copy()))[0].numpy()
            box = est[:, top - t0 : bottom - t0, left - l0 : right - l0]
            np.testing.assert_allclose(tiled[:, top:bottom, left:right], box, rtol=0, atol=1e-6)


def test_patch_batches_are_crops_of_the_images_flipped_and_rotated():
    image = np.arange(3 * 20 * 30, dtype=np.int64).reshape(3, 20, 30) % 256
    images = [image.astype(np.uint8), (255 - image).astype(np.uint8)]
    torch.manual_seed(0)
    batches = PatchBatches(images, patch=8, batch_size=16, batches=3)
    assert len(batches) == 3
    batch = batches[0]
    assert batch.shape == (16, 3, 8, 8) and batch.dtype == torch.float32
    assert batch.min() >= 0 and batch.max() <= 1
    torch.manual_seed(0)
    torch.testing.assert_close(batches[0], batch)  # drawn from torch's generator: seeded runs repeat
    for patch in (batch.numpy() * 255).round().astype(np.uint8):
        views = [np.rot90(v, k, axes=(1, 2)) for v in (patch, patch[:, :, ::-1]) for k in range(4)]
        found = any(
            np.array_equal(view, im[:, t : t + 8, left : left + 8])
            for view in views
            for im in images
            for t in range(13)
            for left in range(23)
        )
        assert found


def test_patch_batches_errors():
    with pytest.raises(DataError, match="larger than an image"):
        PatchBatches([np.zeros((1, 10, 12), np.uint8)], patch=11, batch_size=2, batches=1)
    with pytest.raises(DataError, match="channel counts"):
        PatchBatches([np.zeros((1, 10, 10), np.uint8), np.zeros((3, 10, 10), np.uint8)], 4, 2, 1)
    with pytest.raises(ValueError, match="patch"):
        PatchBatches([np.zeros((1, 10, 10), np.uint8)], patch=0, batch_size=2, batches=1)


def test_load_uint8_images_keeps_different_sizes(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((10, 12), 7, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((15, 9, 3), 200, np.uint8)).save(tmp_path / "b.png")
    images = load_uint8_images(tmp_path)
    assert [im.shape for im in images] == [(3, 10, 12), (3, 15, 9)]
    assert images[0].dtype == np.uint8 and images[0][0, 0, 0] == 7
    assert load_uint8_images(tmp_path, mode="L")[1].shape == (1, 15, 9)


def test_fit_on_patches_learns_to_denoise():
    """aekit's one loop with a patch DataLoader: a small model beats the noisy input on a new image."""
    torch.manual_seed(0)
    images = [np.rint(_smooth_image(48, 48, seed=s) * 255).astype(np.uint8) for s in range(8)]
    model = ConvDenoiser(1, (8, 16), corruption="gaussian:25/255")
    history = aekit.fit(model, patch_loader(images, 32, 8, 20), epochs=6, lr=3e-3, progress=False, seed=0)
    assert history["train_loss"][-1] < history["train_loss"][0]
    clean = _smooth_image(40, 56, seed=99)
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    assert _psnr(clean, denoise(model, noisy)) > _psnr(clean, noisy) + 3


@pytest.mark.parametrize("name", sorted(pretrained_denoisers()))
def test_shipped_denoiser_beats_its_floor_on_a_synthetic_image(name):
    card = pretrained_denoisers()[name]
    model = load_pretrained_denoiser(name)
    channels = model.config["in_channels"]
    assert channels == card["channels"]
    clean = _smooth_image(48, 64, channels, seed=1)
    noisy = clean + np.random.default_rng(1).normal(0, 25 / 255, clean.shape).astype(np.float32)
    gain = _psnr(clean, denoise(model, noisy)) - _psnr(clean, noisy)
    assert gain > card["test_floor_gain_db"]


def test_two_denoisers_are_shipped_and_unknown_names_are_refused():
    cards = pretrained_denoisers()
    assert {"gray-blind", "color-blind"} <= set(cards)
    assert {cards["gray-blind"]["channels"], cards["color-blind"]["channels"]} == {1, 3}
    with pytest.raises(ValueError, match="no shipped denoiser named 'nope'"):
        load_pretrained_denoiser("nope")
