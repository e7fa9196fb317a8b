"""Codec directories in the generic commands: evaluate, plot recon|codes and report (issue 17, item 4)."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from aekit.cli import main
from aekit.codec import Codec, PhotoCodec, pretrained
from aekit.codec.measure import codec_class, rd_point
from aekit.data import load_dataset
from aekit.report import build_report, rd_points


@pytest.fixture(scope="module")
def digits_test():
    return load_dataset("digits", split="test")[0]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two small photos of different sizes (a gradient and noise)."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    ramp = np.broadcast_to(np.linspace(0, 255, 40)[None, :, None], (30, 40, 3)).astype(np.uint8)
    Image.fromarray(ramp).save(root / "a.png")
    Image.fromarray(rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)).save(root / "b.png")
    return root


def test_evaluate_a_codec_gives_real_bitstream_bytes_and_psnr(codec_dir, digits_test, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["evaluate", str(codec_dir), "--data", "digits", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    codec = Codec.load(codec_dir)
    stream = codec.compress(digits_test)
    assert result["n"] == len(digits_test) and result["bytes"] == len(stream)
    assert result["bytes_per_item"] == pytest.approx(len(stream) / len(digits_test))
    recon = np.clip(codec.decompress(stream), 0, 1)
    mse = np.mean((recon - digits_test) ** 2, axis=1)
    assert result["psnr_db"] == pytest.approx(float(np.mean(10 * np.log10(1 / mse))), rel=1e-5)
    assert "bytes_per_item=" in capsys.readouterr().out


def test_evaluate_a_codec_refuses_data_of_another_size(codec_dir, tmp_path, capsys):
    np.save(tmp_path / "mnist.npy", np.zeros((5, 784), np.float32))
    assert main(["evaluate", str(codec_dir), "--data", str(tmp_path / "mnist.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(784,)" in err and "(64,)" in err, err


def test_plot_codes_and_recon_of_a_codec(codec_dir, tmp_path, capsys):
    for kind in ("codes", "recon", "filters"):
        out = tmp_path / f"{kind}.png"
        assert main(["-q", "plot", kind, str(codec_dir), "--data", "digits", "--out", str(out)]) == 0
        assert Image.open(out).size[0] > 100
    argv = ["plot", "recon", str(codec_dir), "--corruption", "masking:0.3", "--out", str(tmp_path / "x.png")]
    assert main(argv) == 2
    assert "not a denoiser" in capsys.readouterr().err


def test_report_of_a_codec_run(codec_dir, digits_test, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(codec_dir, run)
    point = rd_point(Codec.load(run), digits_test)
    (run / "metrics.json").write_text(json.dumps({"data": "digits", **point}))
    html = build_report(run)
    assert "could not be loaded" not in html and "loaded with Codec.load" in html
    assert 'id="rate-distortion"' in html and f"{point['bytes_per_item']:g} bytes" in html
    with_data = build_report(run, X=digits_test)
    assert "reconstructions through the bitstream (360 items" in with_data
    assert "this codec on the given data" in with_data
    assert main(["-q", "report", str(run), "--data", "digits", "--out", str(tmp_path / "r.html")]) == 0


def test_rd_points_reads_a_codec_runs_metrics():
    doc = {"data": "digits", "n": 360, "bytes": 881, "bytes_per_item": 2.45, "psnr_db": 20.5}
    assert rd_points(doc) == {"aekit": [(2.45, 20.5)]}  # per item, not the message's 881 bytes


def test_photo_codec_folders_are_known(photos, tmp_path, capsys):
    q1 = pretrained.model_dir(1)
    assert codec_class(q1) == "PhotoCodec"
    out = tmp_path / "m.json"
    assert main(["-q", "evaluate", str(q1), "--data", str(photos), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    codec = PhotoCodec.load(q1)
    sizes = [len(codec.compress(np.asarray(Image.open(photos / n)))) for n in ("a.png", "b.png")]
    assert result["n"] == 2 and result["bytes"] == sum(sizes)
    assert result["bpp"] == pytest.approx(8 * sum(sizes) / (30 * 40 + 17 * 23))
    assert 10 < result["psnr_db"] < 60
    assert main(["evaluate", str(q1), "--data", "digits"]) == 2
    assert "photo" in capsys.readouterr().err
    assert main(["-q", "report", str(q1), "--data", str(photos), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "loaded with PhotoCodec.load" in html and "reconstructions through the bitstream (2 items" in html


def test_codec_compress_refuses_data_of_another_size(codec_dir, tmp_path, capsys):
    """It said numpy's "cannot reshape array of size 3920 into shape (5,64)"."""
    np.save(tmp_path / "mnist.npy", np.zeros((5, 784), np.float32))
    argv = [
        "codec",
        "compress",
        str(codec_dir),
        "--data",
        str(tmp_path / "mnist.npy"),
        "--out",
        str(tmp_path / "x.aek"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(784,)" in err and "(64,)" in err and "reshape" not in err, err


def test_a_training_checkpoint_without_tables_points_at_its_export(codec_dir, tmp_path, capsys):
    import aekit

    run = Codec(aekit.Autoencoder(64, [8], code_activation="linear")).save(tmp_path / "run")  # no update()
    shutil.copytree(codec_dir, run / "export")
    assert main(["evaluate", str(run), "--data", "digits"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "without entropy tables" in err and str(run / "export") in err, err
    assert "export/ folder has them" in build_report(run, X=np.zeros((2, 64), np.float32))


def test_encode_and_reconstruct_a_dense_codec_through_its_bitstream(codec_dir, digits_test, tmp_path, capsys):
    codec = Codec.load(codec_dir)
    codes = tmp_path / "codes.npz"
    assert main(["-q", "encode", str(codec_dir), "--data", "digits", "--out", str(codes)]) == 0
    with np.load(codes) as z:
        np.testing.assert_array_equal(z["codes"], codec.decompress_symbols(codec.compress(digits_test)))
        assert len(z["y"]) == len(digits_test)
    recon = tmp_path / "recon.npy"
    assert main(["-q", "reconstruct", str(codec_dir), "--data", "digits", "--out", str(recon)]) == 0
    np.testing.assert_array_equal(np.load(recon), codec.decompress(codec.compress(digits_test)))
    figure = tmp_path / "recon.png"
    assert main(["-q", "reconstruct", str(codec_dir), "--data", "digits", "--out", str(figure)]) == 0
    assert Image.open(figure).size[0] > 100


@pytest.mark.parametrize("family", ["factorized", "hyperprior"])
def test_encode_and_reconstruct_a_photo_codec(family, photos, tmp_path, capsys):
    """Each photo's symbols ŷ and its decoded photo, keyed by file name: those of its real stream."""
    from aekit.codec.photo_codecs import load_photo_codec

    model = pretrained.model_dir(1, family)
    codec = load_photo_codec(model)
    codes, recon = tmp_path / "codes.npz", tmp_path / "recon.npz"
    assert main(["-q", "encode", str(model), "--data", str(photos), "--out", str(codes)]) == 0
    assert main(["-q", "reconstruct", str(model), "--data", str(photos), "--out", str(recon)]) == 0
    with np.load(codes) as c, np.load(recon) as r:
        assert sorted(c) == sorted(r) == ["a.png", "b.png"]
        for name in ("a.png", "b.png"):
            stream = codec.compress(np.asarray(Image.open(photos / name)))
            symbols, height, width = codec.decompress_symbols(stream)  # (M, h, w), or (h·w, M) factorized
            shape = (codec.M, -(-height // 16), -(-width // 16))
            assert c[name].shape == shape
            np.testing.assert_array_equal(c[name], symbols if symbols.ndim == 3 else symbols.T.reshape(shape))
            np.testing.assert_array_equal(r[name], codec.decompress(stream))
    assert main(["-q", "evaluate", str(model), "--data", str(photos), "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["model"] == type(codec).__name__
    one = tmp_path / "a.npy"
    assert main(["-q", "reconstruct", str(model), "--data", str(photos / "a.png"), "--out", str(one)]) == 0
    assert np.load(one).shape == (30, 40, 3) and np.load(one).dtype == np.uint8


def test_photos_of_two_sizes_in_one_npy_are_refused_before_the_work(photos, tmp_path, capsys):
    model = str(pretrained.model_dir(1))
    for command in ("encode", "reconstruct"):
        out = tmp_path / f"{command}.npy"
        assert main([command, model, "--data", str(photos), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ".npz" in err and "Traceback" not in err, err
        assert not out.exists()


def test_evaluate_says_what_it_measured(photos, codec_dir, tmp_path, capsys):
    """A photo folder has no split: the line names the photos' pixels instead; a data set keeps its split."""
    assert main(["evaluate", str(pretrained.model_dir(1)), "--data", str(photos)]) == 0
    line = capsys.readouterr().out
    assert "split=" not in line and f"data={photos} " in line, line
    assert f"megapixels={(30 * 40 + 17 * 23) / 1e6:.6g}" in line, line
    assert main(["evaluate", str(codec_dir), "--data", "digits"]) == 0
    assert "split=test" in capsys.readouterr().out
    np.save(tmp_path / "items.npy", load_dataset("digits", split="test")[0][:20])
    assert main(["evaluate", str(codec_dir), "--data", str(tmp_path / "items.npy")]) == 0
    assert "split=" not in capsys.readouterr().out  # one file: nothing was chosen
