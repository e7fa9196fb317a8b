"""The photo codec split in two ONNX halves: parity with torch, torch-free device, the cloud decodes its symbols."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from aekit.codec.device_photo import PhotoDeviceDecoder, PhotoDeviceEncoder
from aekit.codec.photo import PhotoCodec
from aekit.errors import CheckpointError

SRC = Path(__file__).resolve().parents[2] / "src"


def photo(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(h * 1000 + w)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    smooth = np.stack([0.5 + 0.4 * np.sin(4 * xx + k) * np.cos(3 * yy) for k in range(3)], -1)
    return np.clip(np.rint(smooth * 255 + rng.normal(0, 4, smooth.shape)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    torch.manual_seed(0)
    codec = PhotoCodec(3, 8, 12).update()
    path = codec.save(tmp_path_factory.mktemp("photo") / "p", export=True)
    return codec, path


def test_both_halves_pass_the_onnx_checker(photo_dir):
    _, path = photo_dir
    for name in ("encoder.onnx", "decoder.onnx"):
        onnx.checker.check_model(onnx.load(str(path / name)), full_check=True)


@pytest.mark.parametrize("size", [(1, 1), (17, 33), (65, 64)])
def test_onnx_halves_match_torch(photo_dir, size):
    codec, path = photo_dir
    image = photo(*size)
    device = PhotoDeviceEncoder(path)
    y_onnx, y_torch = device.latents(image), codec.latents(image)
    assert y_onnx.shape == y_torch.shape and np.abs(y_onnx - y_torch).max() < 1e-4
    data = codec.compress(image)
    onnx_pixels = PhotoDeviceDecoder(path).decompress(data).astype(int)
    assert np.abs(onnx_pixels - codec.decompress(data)).max() <= 1  # float rounding: one level at most


def test_device_symbols_decode_identically_in_the_cloud(photo_dir, tmp_path):
    from PIL import Image

    codec, path = photo_dir
    image = photo(40, 70)
    Image.fromarray(image).save(tmp_path / "p.png")
    device = PhotoDeviceEncoder(path)
    data = device.compress(tmp_path / "p.png")
    symbols, height, width = codec.decompress_symbols(data)
    assert (height, width) == (40, 70)
    assert np.array_equal(symbols, device.symbols(image))
    assert np.abs(codec.decompress(data) - PhotoDeviceDecoder(path).decompress(data).astype(int)).max() <= 1


def test_a_dense_codec_directory_is_not_a_photo_codec(codec_dir):
    with pytest.raises(CheckpointError, match="not a photo codec"):
        PhotoDeviceEncoder(codec_dir)


BLOCKER = """
import sys
class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked: the device has no torch")
sys.meta_path.insert(0, BlockTorch())
from aekit.codec import DeviceEncoder
from aekit.codec.device_photo import PhotoDeviceDecoder
enc = DeviceEncoder(sys.argv[1])
data = enc.compress(sys.argv[2])
assert PhotoDeviceDecoder(sys.argv[1]).decompress(data).shape == (33, 50, 3)
sys.stdout.write(data.hex())
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
"""


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_device_encoder_takes_photos_without_torch(photo_dir, tmp_path, suffix):
    from PIL import Image

    codec, path = photo_dir
    Image.fromarray(photo(33, 50)).save(tmp_path / f"p{suffix}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, str(path), str(tmp_path / f"p{suffix}")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert codec.decompress(bytes.fromhex(result.stdout)).shape == (33, 50, 3)
