import copy
import hashlib
import json
import os
import shutil
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
    one = device.compress(test_items[0])  # a single item of input_shape
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
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, str(codec_dir), str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = bytes.fromhex(result.stdout)
    assert np.array_equal(codec.decompress_symbols(data), codec.symbols(test_items[:5]))


def edited_copy(codec_dir, tmp_path, edit):
    """A copy of the codec directory whose codec.json went through ``edit(config, directory)``."""
    path = tmp_path / "edited"
    shutil.copytree(codec_dir, path)
    config = json.loads((path / "codec.json").read_text())
    edit(config, path)
    (path / "codec.json").write_text(json.dumps(config))
    return path


def mirror_tables(config, _):
    for row in config["freqs"]:
        row.reverse()  # same sums, other densities: every other check passes


def garbage_onnx(config, path):
    (path / "encoder.onnx").write_bytes(b"garbage")
    config["encoder_sha256"] = hashlib.sha256(b"garbage").hexdigest()


@pytest.mark.parametrize(
    "edit, match",
    [
        (mirror_tables, "tables_sha256"),
        (lambda c, _: c.update(fingerprint="00" * 32), "tables_sha256"),
        (lambda c, _: c.update(encoder_sha256=None), "names no exported encoder.*aekit codec export"),
        (lambda c, _: c.update(encoder=5), "encoder must be a file name"),
        (lambda c, p: c.update(encoder=str((p / "encoder.onnx").resolve())), "encoder must be a file name"),
        (lambda c, _: c.update(encoder="../edited/encoder.onnx"), "encoder must be a file name"),
        (garbage_onnx, "not a loadable ONNX model"),
        (
            lambda c, _: c["freqs"][0].__setitem__(0, c["freqs"][0][0] + 0.5),
            r"freqs\[0\]\[0\] must be an integer",
        ),
        (lambda c, _: c.update(lengths=[2.0] * len(c["lengths"])), r"lengths\[0\] must be an integer"),
        (lambda c, _: c.update(input_shape=[]), "input_shape must be a non-empty list"),
        (lambda c, _: c.update(input_shape=[65], image_shape=None), r"its input has shape .* says \(N, 65\)"),
        (lambda c, _: c.update(image_shape="xy"), "image_shape must be a non-empty list"),
        (lambda c, _: c.update(image_shape=[9, 9]), r"image_shape \(9, 9\) is not"),
    ],
)
def test_device_encoder_refuses_an_edited_codec_json(codec_dir, tmp_path, edit, match):
    path = edited_copy(codec_dir, tmp_path, edit)
    with pytest.raises(CheckpointError, match=match):
        DeviceEncoder(path)


def test_a_save_without_export_leaves_no_stale_encoder_behind(codec, codec_dir, tmp_path, digits):
    path = tmp_path / "c"
    shutil.copytree(codec_dir, path)  # encoder.onnx of these weights
    changed = copy.deepcopy(codec)
    with torch.no_grad():
        changed.autoencoder.encoder_layers[0].weight.mul_(-1.0)
    changed.update().save(path, export=False)  # new weights and tables, no export
    with pytest.raises(CheckpointError, match="export"):
        DeviceEncoder(path)  # used to run the old encoder.onnx against the new tables


def test_export_names_the_file_it_wrote(codec, tmp_path, test_items):
    onnx_file = codec.export(tmp_path / "phone" / "phone.onnx")
    config = json.loads((tmp_path / "phone" / "codec.json").read_text())
    assert config["encoder"] == "phone.onnx" and onnx_file.name == "phone.onnx"
    device = DeviceEncoder(tmp_path / "phone")
    assert np.array_equal(
        codec.decompress_symbols(device.compress(test_items[:3])), device.symbols(test_items[:3])
    )


def test_device_latents_beyond_int64_clamp_to_their_end_of_the_table(identity_codec, tmp_path):
    codec = identity_codec()
    device = DeviceEncoder(codec.save(tmp_path / "linear"))
    low, high = codec.tables.low, codec.tables.high
    X = np.array([[5, -5, 0, 0], [1e19, -1e19, 1e30, 0]], np.float32)
    assert device.symbols(X).tolist() == [[5, -5, 0], [high[0], low[1], high[2]]]
    huge = identity_codec(scale=10.0)
    device = DeviceEncoder(huge.save(tmp_path / "huge"))
    with pytest.raises(DataError, match="infinite"):
        device.compress(np.array([[3e38, 0, 0, 0]], np.float32))
