"""codec.json, written and read by aekit.codec.files alone: the round trip, and a file of an earlier aekit."""

import json
from pathlib import Path

import numpy as np
import pytest

from aekit.codec import Codec, files
from aekit.errors import CheckpointError

DATA = Path(__file__).parent / "data"


def test_device_config_round_trips_through_write_and_read(codec, tmp_path):
    config = codec.device_config()
    path = files.write(tmp_path, config)
    assert path == tmp_path / files.FILE
    back = files.read(tmp_path)
    assert back["fingerprint"] == codec.fingerprint and back["input_shape"] == codec.input_shape
    assert back["latent_shape"] == codec.latent_shape and back["image_shape"] == codec.image_shape
    t = back["tables"]
    assert t.precision == codec.tables.precision
    for name in ("offsets", "lengths", "freqs"):
        assert np.array_equal(getattr(t, name), getattr(codec.tables, name))
    assert back["format"] == files.FORMAT and back["format_version"] == files.FORMAT_VERSION
    assert files.read(path)["tables_sha256"] == config["tables_sha256"]  # the file itself, too


def test_the_codec_json_of_an_earlier_aekit_still_reads():
    config = files.read(DATA / "codec_v3")
    assert config["fingerprint"].hex() == json.loads((DATA / "codec_v3.json").read_text())["fingerprint"]
    with pytest.raises(CheckpointError, match="names no exported encoder"):
        files.encoder_file(DATA / "codec_v3", config)


def test_another_format_version_is_refused(codec, tmp_path):
    files.write(tmp_path, {**codec.device_config(), "format_version": files.FORMAT_VERSION + 1})
    with pytest.raises(CheckpointError, match=f"format version {files.FORMAT_VERSION + 1}"):
        files.read(tmp_path)


def test_a_codec_saved_by_an_earlier_aekit_loads_with_the_same_fingerprint_and_streams():
    """codec_v3: written before the codec was split into layers (its tensor names are the checkpoints')."""
    meta = json.loads((DATA / "codec_v3.json").read_text())
    codec = Codec.load(DATA / "codec_v3")
    assert codec.fingerprint.hex() == meta["fingerprint"]
    data = (DATA / "codec_v3.aek").read_bytes()
    assert codec.decompress_symbols(data).tolist() == meta["symbols"]
    # the symbols are exact on every machine; the float decoder may differ in the last bits (another
    # CPU picks another matmul kernel), so the pixels are compared to a few float32 ULPs
    expected = np.array(meta["reconstruction"], np.float32)
    np.testing.assert_allclose(codec.decompress(data), expected, rtol=1e-6, atol=1e-6)
    assert codec.compress(np.array(meta["inputs"], np.float32)) == data
