import json
import socket

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import aekit
from aekit.cli import main


def test_codec_train_compress_decompress_export(tmp_path, one_thread):
    out = tmp_path / "codec"
    assert (
        main(
            [
                "-q",
                "codec",
                "train",
                "--data",
                "digits",
                "--hidden",
                "16,6",
                "--epochs",
                "2",
                "--batch-size",
                "64",
                "--lmbda",
                "0.05",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["bytes_per_item"] > 0 and np.isfinite(metrics["psnr_db"])
    assert (out / "encoder.onnx").is_file() and (out / "codec.json").is_file()
    stream = tmp_path / "x.aek"
    assert (
        main(["-q", "codec", "compress", str(out), "--data", "digits", "--n", "7", "--out", str(stream)]) == 0
    )
    assert main(["-q", "codec", "decompress", str(out), str(stream), "--out", str(tmp_path / "r.npy")]) == 0
    assert np.load(tmp_path / "r.npy").shape == (7, 64)
    assert main(["-q", "codec", "decompress", str(out), str(stream), "--out", str(tmp_path / "r.png")]) == 0
    assert Image.open(tmp_path / "r.png").size == (24, 24)
    assert main(["-q", "codec", "export", str(out), "--out", str(tmp_path / "dev" / "enc.onnx")]) == 0
    assert (tmp_path / "dev" / "enc.onnx").is_file() and (tmp_path / "dev" / "codec.json").is_file()


def test_corrupt_stream_file_is_a_one_line_error(codec_dir, tmp_path, capsys):
    bad = tmp_path / "bad.aek"
    bad.write_bytes(b"\xae\x02garbage")
    assert main(["codec", "decompress", str(codec_dir), str(bad), "--out", str(tmp_path / "r.npy")]) == 2
    assert "bitstream" in capsys.readouterr().err


def test_send_images_to_a_running_server(live_server, codec_dir, digits, tmp_path, capsys):
    paths = []
    for i in range(3):
        path = tmp_path / f"d{i}.png"
        Image.fromarray((digits[i].reshape(8, 8) * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    np.save(tmp_path / "more.npy", digits[3:5])
    out = tmp_path / "answer.npy"
    assert (
        main(
            [
                "-q",
                "send",
                "--server",
                live_server,
                "--model",
                str(codec_dir),
                *paths,
                str(tmp_path / "more.npy"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert np.load(out).shape == (5, 64)
    assert "sent 5 items" in capsys.readouterr().out
    assert main(["send", "--server", "http://127.0.0.1:9", "--model", str(codec_dir), paths[0]]) == 2


def test_export_out_writes_a_codec_json_that_names_the_onnx_file(codec_dir, tmp_path, test_items):
    from aekit.codec import Codec, DeviceEncoder

    out = tmp_path / "phone" / "phone.onnx"
    assert main(["-q", "codec", "export", str(codec_dir), "--out", str(out)]) == 0
    assert json.loads((out.parent / "codec.json").read_text())["encoder"] == "phone.onnx"
    device = DeviceEncoder(out.parent)  # used to look for phone/encoder.onnx
    data = device.compress(test_items[:2])
    assert np.array_equal(Codec.load(codec_dir).decompress_symbols(data), device.symbols(test_items[:2]))


@pytest.fixture
def no_uvicorn(monkeypatch):
    """Fail (instead of serving for ever) if `aekit serve` gets as far as starting uvicorn."""
    import uvicorn

    def started(*args, **kwargs):
        raise AssertionError("uvicorn was started")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(uvicorn.Server, "run", started)


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err


def test_serve_checks_every_model_before_starting(codec_dir, tmp_path, capsys, no_uvicorn):
    import shutil

    aekit.save(aekit.Autoencoder(64, [8]), tmp_path / "dae")
    (tmp_path / "empty").mkdir()
    shutil.copytree(codec_dir, tmp_path / "copy")
    for models, words in (
        [[tmp_path / "dae"], ("holds an Autoencoder, not a Codec",)],
        [[tmp_path / "empty"], ("config.json",)],
        [[codec_dir, tmp_path / "copy"], ("same model",)],
    ):
        argv = ["serve"] + [a for m in models for a in ("--model", str(m))]
        assert main(argv) == 2
        _one_line_error(capsys, *words)


@pytest.mark.parametrize("port", ["-1", "0", "70000", "http"])
def test_serve_port_must_be_a_tcp_port(codec_dir, capsys, no_uvicorn, port):
    assert main(["serve", "--model", str(codec_dir), "--port", port]) == 2
    _one_line_error(capsys, "1..65535", port)


def test_serve_port_in_use_is_one_line(codec_dir, capsys, no_uvicorn):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--model", str(codec_dir), "--port", str(port)]) == 2
    _one_line_error(capsys, "cannot listen", str(port))


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--max-body-mib", "100", "--max-memory-mib", "50"], ("--max-body-mib", "--max-memory-mib")),
        (["--max-memory-mib", "0"], ("--max-memory-mib",)),
        (["--max-items", "-3"], ("--max-items",)),
        (["--header-timeout", "nan"], ("--header-timeout",)),
        (["--max-connections", "0"], ("--max-connections",)),
    ],
)
def test_serve_limits_are_checked_in_one_line(codec_dir, capsys, no_uvicorn, flags, words):
    assert main(["serve", "--model", str(codec_dir), *flags]) == 2
    _one_line_error(capsys, *words)


def test_serve_passes_its_limits_to_the_app_and_the_server(codec_dir, monkeypatch, free_port):
    """The flags reach create_app (memory, items, body timeout) and uvicorn (header deadline, connections)."""
    import uvicorn

    seen = {}

    def run(server, sockets=None):
        seen["config"] = server.config
        for s in sockets or []:
            s.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    flags = ["--max-memory-mib", "64", "--max-items", "99", "--body-timeout", "2", "--header-timeout", "3"]
    port = str(free_port())
    assert main(["serve", "--model", str(codec_dir), "--port", port, *flags, "--max-connections", "7"]) == 0
    config = seen["config"]
    assert config.http.keywords == {"header_timeout": 3.0, "max_connections": 7}
    assert config.limit_concurrency == 8
    with TestClient(config.app) as client:
        service = client.app.state.service
        assert (service.admission.budget, service.max_items, service.body_timeout) == (64 << 20, 99, 2.0)


def test_send_names_a_file_that_is_not_npy(codec_dir, tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    assert main(["send", "--server", "http://127.0.0.1:1", "--model", str(codec_dir), str(bad)]) == 2
    _one_line_error(capsys, "bad.npy", "not a readable .npy")


def test_decompress_to_an_upper_case_png(codec_dir, tmp_path, test_items):
    np.save(tmp_path / "x.npy", test_items[:4])
    assert (
        main(
            [
                "-q",
                "codec",
                "compress",
                str(codec_dir),
                "--data",
                str(tmp_path / "x.npy"),
                "--out",
                str(tmp_path / "s.aek"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-q",
                "codec",
                "decompress",
                str(codec_dir),
                str(tmp_path / "s.aek"),
                "--out",
                str(tmp_path / "r.PNG"),
            ]
        )
        == 0
    )
    with Image.open(tmp_path / "r.PNG") as img:
        assert img.format == "PNG"


def test_send_refuses_an_npy_of_another_item_shape(codec_dir, tmp_path, capsys):
    """A (4, 28, 28) array was reshaped into 49 items of a 64-input codec: now refused, both shapes named."""
    np.save(tmp_path / "mnist4.npy", np.zeros((4, 28, 28), np.float32))
    assert (
        main(
            [
                "send",
                "--server",
                "http://127.0.0.1:1",
                "--model",
                str(codec_dir),
                str(tmp_path / "mnist4.npy"),
            ]
        )
        == 2
    )
    _one_line_error(capsys, "mnist4.npy", "(4, 28, 28)", "(64,)")


def test_send_refuses_an_image_of_another_size(codec_dir, tmp_path, capsys):
    """A 28×28 PNG was silently resized to the codec's 8×8: now refused, both sizes named."""
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "big.png")
    assert (
        main(["send", "--server", "http://127.0.0.1:1", "--model", str(codec_dir), str(tmp_path / "big.png")])
        == 2
    )
    _one_line_error(capsys, "big.png", "28×28", "8×8")


def test_read_items_takes_the_codec_shapes_only(tmp_path, digits):
    from aekit.codec.items import read_items
    from aekit.errors import DataError

    for name, array in (
        ("one", digits[0]),
        ("one8x8", digits[0].reshape(8, 8)),
        ("grid", digits[:3].reshape(3, 8, 8)),
    ):
        np.save(tmp_path / f"{name}.npy", array)
        items = read_items(tmp_path / f"{name}.npy", (64,), (8, 8))
        assert items.shape == (len(array) if array.ndim == 3 else 1, 64)
        assert np.array_equal(items.reshape(-1), np.asarray(array, np.float32).reshape(-1))
    for bad in (np.zeros((2, 32)), np.zeros((128,)), np.zeros((0, 64)), np.float32(1.0)):
        np.save(tmp_path / "bad.npy", bad)
        with pytest.raises(DataError, match="bad.npy"):
            read_items(tmp_path / "bad.npy", (64,), (8, 8))


def test_send_without_out_keeps_the_answer_and_says_where(
    live_server, codec_dir, digits, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "two.npy", digits[:2])
    argv = ["send", "--server", live_server, "--model", str(codec_dir), "two.npy"]
    assert main(argv) == 0
    assert "-> two-decoded.npy" in capsys.readouterr().out
    assert np.load(tmp_path / "two-decoded.npy").shape == (2, 64)
    assert main(argv) == 0  # never replaces an earlier answer
    assert "-> two-decoded-2.npy" in capsys.readouterr().out
    assert (tmp_path / "two-decoded.npy").is_file() and (tmp_path / "two-decoded-2.npy").is_file()


def test_send_photos_without_out_keeps_each_answer(tmp_path, monkeypatch, capsys):
    """A photo codec: each photo's answer is kept as PHOTO-decoded.png (the server is stubbed)."""
    import aekit.codec.client

    posted = []
    monkeypatch.setattr(aekit.codec.client, "send", lambda data, *a, **k: posted.append(data) or b"PNG")
    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / name)
    assert main(["send", "--server", "http://127.0.0.1:1", "--quality", "1", "a.png", "b.png"]) == 0
    out = capsys.readouterr().out
    assert "-> a-decoded.png" in out and "-> b-decoded.png" in out and len(posted) == 2
    assert (tmp_path / "a-decoded.png").read_bytes() == b"PNG"
