import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from aekit.codec import DeviceEncoder
from aekit.errors import CheckpointError, DataError

SRC = Path(__file__).resolve().parents[2] / "src"


def test_exported_encoder_passes_the_onnx_checker(codec_dir):
    onnx.checker.check_model(onnx.load(str(codec_dir / "encoder.onnx")), full_check=True)


def test_onnx_encoder_matches_torch_and_gives_the_same_symbols(codec, codec_dir, digits):
    device = DeviceEncoder(codec_dir)
    with torch.no_grad():
        y_torch = codec.encode(torch.from_numpy(digits)).numpy()
    y_onnx = device.latents(digits)
    assert np.abs(y_onnx - y_torch).max() < 1e-4
    disagree = (device.symbols(digits) != codec.symbols(digits)).mean()
    print(f"ONNX vs torch symbol disagreement on {len(digits)} digits: {disagree:.2e}")
    assert disagree <= 1e-3


def test_device_bitstream_decodes_in_the_cloud(codec, codec_dir, test_items):
    device = DeviceEncoder(codec_dir)
    data = device.compress(test_items)
    assert np.array_equal(codec.decompress_symbols(data), device.symbols(test_items))
    one = device.compress(test_items[0])           # a single item of input_shape
    assert codec.decompress(one).shape == (1, 64)


def test_device_encoder_checks_its_inputs_and_files(codec_dir, tmp_path):
    device = DeviceEncoder(codec_dir)
    with pytest.raises(DataError, match="expected"):
        device.compress(np.zeros((2, 10), np.float32))
    with pytest.raises(DataError, match="NaN"):
        device.compress(np.full((1, 64), np.nan, np.float32))
    with pytest.raises(CheckpointError, match="not found"):
        DeviceEncoder(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    config = json.loads((codec_dir / "codec.json").read_text())
    config["freqs"][0][0] += 1
    (bad / "codec.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="sum to"):
        DeviceEncoder(bad)


BLOCKER = """
import sys
class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked: the device has no torch")
sys.meta_path.insert(0, BlockTorch())
import numpy as np
from aekit.codec import DeviceEncoder
enc = DeviceEncoder(sys.argv[1])
X = np.load(sys.argv[2])
sys.stdout.write(enc.compress(X).hex())
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
"""


def test_device_encoder_runs_without_torch(codec, codec_dir, test_items, tmp_path):
    np.save(tmp_path / "x.npy", test_items[:5])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", BLOCKER, str(codec_dir), str(tmp_path / "x.npy")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    data = bytes.fromhex(result.stdout)
    assert np.array_equal(codec.decompress_symbols(data), codec.symbols(test_items[:5]))
