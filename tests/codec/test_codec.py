import contextlib
import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

import aekit
from aekit.codec import Codec, train_codec
from aekit.errors import BitstreamError, CheckpointError, DataError
from aekit.io.atomic import recover


def test_round_trip_equals_the_dequantised_codes_exactly(codec, test_items):
    data = codec.compress(test_items)
    symbols = codec.symbols(test_items)
    assert np.array_equal(codec.decompress_symbols(data), symbols)
    assert np.array_equal(codec.decompress(data), codec.dequantize(symbols))
    assert codec.decompress(data).shape == test_items.shape


def test_reconstructions_are_useful_and_the_rate_matches_the_tables(codec, test_items):
    data = codec.compress(test_items)
    recon = codec.decompress(data)
    assert aekit.metrics.mse(test_items, recon) < 0.6 * test_items.var()
    ideal = codec.tables.bits(codec.symbols(test_items)).sum() / 8
    overhead = 15 + 4
    assert ideal <= len(data) <= ideal * 1.02 + overhead


def test_symbols_are_the_rounded_codes_within_the_tables(codec, test_items):
    with torch.no_grad():
        y = codec.encode(torch.from_numpy(test_items)).numpy()
    s = codec.symbols(test_items)
    inside = (np.rint(y) >= codec.tables.low) & (np.rint(y) <= codec.tables.high)
    assert inside.mean() > 0.99
    assert np.array_equal(s[inside], np.rint(y)[inside].astype(np.int64))


def test_save_load_keeps_the_fingerprint_and_decodes_the_same(codec, codec_dir, test_items):
    loaded = Codec.load(codec_dir)
    assert loaded.fingerprint == codec.fingerprint
    data = codec.compress(test_items)
    assert np.array_equal(loaded.decompress(data), codec.decompress(data))
    assert loaded.compress(test_items) == data
    assert isinstance(aekit.load(codec_dir), Codec)


def test_load_refuses_a_plain_autoencoder(tmp_path):
    aekit.save(aekit.Autoencoder(8, [4]), tmp_path / "ae")
    with pytest.raises(CheckpointError, match="holds an Autoencoder, not a Codec"):
        Codec.load(tmp_path / "ae")


def test_every_corruption_of_a_codec_stream_raises_bitstream_error(codec, test_items):
    data = codec.compress(test_items[:3])
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        with pytest.raises(BitstreamError):
            codec.decompress(bytes(bad))
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            codec.decompress(data[:n])


def test_a_stream_of_another_model_is_refused(codec, digits):
    aekit.seed_everything(1)
    other = Codec(
        aekit.Autoencoder(64, [32, 8], activation="relu", code_activation="linear", loss="mse")
    ).update()
    with pytest.raises(BitstreamError, match="wrong model"):
        codec.decompress(other.compress(digits[:2]))


def test_compress_before_update_is_an_error():
    fresh = Codec(aekit.Autoencoder(16, [4], code_activation="linear", loss="mse"))
    with pytest.raises(BitstreamError, match="update"):
        fresh.compress(np.zeros((1, 16), np.float32))


def test_larger_lambda_gives_fewer_bytes(digits, one_thread):
    sizes = {}
    for lmbda in (0.001, 0.5):
        aekit.seed_everything(0)
        ae = aekit.Autoencoder(64, [16, 6], activation="relu", code_activation="linear", loss="mse")
        c = train_codec(
            ae, digits[:600], lmbda=lmbda, epochs=6, batch_size=32, lr=3e-3, seed=0, progress=False
        )
        sizes[lmbda] = len(c.compress(digits[1500:1700]))
    assert sizes[0.5] < 0.8 * sizes[0.001]


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(lmbda=-1.0), "lmbda"), (dict(quantizer="round"), "quantizer"), (dict(precision=40), "precision")],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Codec(aekit.Autoencoder(16, [4], loss="mse"), **kwargs)


def test_entropy_model_likelihoods_sum_to_one_over_the_integers():
    from aekit.codec import FactorizedPrior

    prior = FactorizedPrior(3, 2)
    with torch.no_grad():
        prior.loc.normal_()
        grid = torch.arange(-60, 61, dtype=torch.float64)[:, None].expand(-1, 3)
        assert torch.allclose(prior.likelihood(grid).sum(0), torch.ones(3, dtype=torch.float64), atol=1e-6)
    _offsets, lengths, freqs = prior.tabulate(precision=12)
    assert (freqs.sum(1) == 4096).all() and (lengths >= 2).all()


def test_continuing_training_replaces_the_tables_and_the_fingerprint(codec, digits, one_thread):
    import copy

    more = copy.deepcopy(codec)
    train_codec(
        more, digits[:300], lmbda=0.05, epochs=1, batch_size=64, quantizer="ste", seed=0, progress=False
    )
    assert more.quantizer == "ste" and more.lmbda == 0.05 and more.updated
    assert more.fingerprint != codec.fingerprint
    X = digits[1500:1510]
    assert np.array_equal(more.decompress(more.compress(X)), more.dequantize(more.symbols(X)))


def test_latents_beyond_int64_clamp_to_their_end_of_the_table(identity_codec):
    codec = identity_codec()
    low, high = codec.tables.low, codec.tables.high
    X = np.array([[5, -5, 0, 0], [1e19, -1e19, 1e30, 0], [3e38, 3e38, 3e38, 3e38]], np.float32)
    assert codec.symbols(X).tolist() == [[5, -5, 0], [high[0], low[1], high[2]], [high[0], high[1], high[2]]]
    assert codec.decompress_symbols(codec.compress(X))[1].tolist() == [high[0], low[1], high[2]]


def test_latents_that_overflow_to_infinity_are_a_data_error(identity_codec):
    codec = identity_codec(scale=10.0)  # 3e38 · 10 = inf in float32
    with pytest.raises(DataError, match="infinite"):
        codec.compress(np.array([[1.0, 0, 0, 0], [3e38, 0, 0, 0]], np.float32))


def _edit_config(path, edit):
    config = json.loads((path / "config.json").read_text())
    edit(config["args"])
    (path / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda a: a.update(table_width=-1), r"table_width must be an int in 0\.\.4096.*-1"),
        (lambda a: a.update(table_width=1 << 40), r"table_width must be an int in 0\.\.4096.*1099511627776"),
        (lambda a: a.update(table_width=200_000_000), r"table_width .*200000000"),
        (
            lambda a: a["autoencoder"]["args"].update(hidden=[1 << 40, 8]),
            r"weights and buffers, more than the allowed",
        ),
    ],
)
def test_config_sizes_are_bounded_before_anything_is_allocated(codec_dir, tmp_path, edit, match):
    path = tmp_path / "edited"
    shutil.copytree(codec_dir, path)
    _edit_config(path, edit)
    with pytest.raises(CheckpointError, match=match):
        Codec.load(path)


def test_load_refuses_tables_that_do_not_sum(codec_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    path = tmp_path / "bad_tables"
    shutil.copytree(codec_dir, path)
    weights = path / "model.safetensors"
    tensors = load_file(str(weights))
    tensors["table_freqs"][0, 0] += 7
    save_file(tensors, str(weights))
    config = json.loads((path / "config.json").read_text())
    config["files"]["model.safetensors"] = {
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "bytes": weights.stat().st_size,
    }  # a consistent manifest
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="tables .* corrupted: the frequencies of dimension 0 sum to"):
        Codec.load(path)


def test_a_codec_saved_before_update_still_loads(tmp_path):
    fresh = Codec(aekit.Autoencoder(16, [4], code_activation="linear", loss="mse"))
    assert not Codec.load(fresh.save(tmp_path / "fresh")).updated


def test_save_removes_device_files_that_no_longer_fit(codec, tmp_path):
    import copy

    path = codec.save(tmp_path / "c")
    assert (path / "encoder.onnx").is_file()
    changed = copy.deepcopy(codec)
    with torch.no_grad():
        changed.autoencoder.encoder_layers[0].bias.add_(0.5)
    changed.update()
    changed.save(path, export=False)
    assert not (path / "encoder.onnx").exists()  # the old weights' encoder
    config = json.loads((path / "codec.json").read_text())
    assert config["fingerprint"] == changed.fingerprint.hex() and config["encoder"] is None
    changed.clear_tables()
    changed.save(path)
    assert not (path / "codec.json").exists()  # no tables: nothing for the device


@pytest.mark.parametrize("dead", [False, True], ids=["error", "crash"])
def test_removing_a_stale_encoder_is_part_of_the_atomic_commit(codec, tmp_path, dead):
    """A save that fails or dies at any file operation leaves the earlier codec with its encoder.onnx,
    or the new one without it: never the earlier checkpoint stripped of its encoder."""
    import copy

    from test_io_commit import InjectedCrash, crash_at

    exported = codec.save(tmp_path / "exported")
    changed = copy.deepcopy(codec)
    with torch.no_grad():
        changed.autoencoder.encoder_layers[0].bias.add_(0.5)
    changed.update()
    outcomes = set()
    for k in range(1, 100):
        path = tmp_path / f"k{k}"
        shutil.copytree(exported, path)
        with crash_at(k, dead=dead) as count, contextlib.suppress(InjectedCrash):
            changed.save(path, export=False)
        recover(path)  # what the next reader does
        fingerprint = Codec.load(path).fingerprint
        config = json.loads((path / "codec.json").read_text())
        assert config["fingerprint"] == fingerprint.hex(), k
        if fingerprint == codec.fingerprint:
            assert (path / "encoder.onnx").is_file() and config["encoder"] == "encoder.onnx", k
        else:
            assert fingerprint == changed.fingerprint and not (path / "encoder.onnx").exists(), k
        outcomes.add(fingerprint)
        if count[0] < k:
            break
    assert outcomes == {codec.fingerprint, changed.fingerprint}
