"""`aekit report`: one self-contained HTML page; its sections, its images, and a real browser rendering it."""

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from aekit.cli import main
from aekit.report import build_report, rd_points, write_report

SECTIONS = ("configuration", "curves", "metrics", "reconstructions", "filters", "map", "rate-distortion")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory as `aekit train` writes it, plus a 2-D map and rate-distortion points."""
    root = tmp_path_factory.mktemp("report")
    run = root / "run"
    assert (
        main(
            [
                "-q",
                "train",
                "--data",
                "digits",
                "--hidden",
                "32,8",
                "--corruption",
                "masking:0.2",
                "--epochs",
                "3",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-q",
                "map",
                "--data",
                "digits",
                "--hidden",
                "16,2",
                "--epochs",
                "2",
                "--trust-samples",
                "200",
                "--out",
                str(run / "map.png"),
                "--metrics-out",
                str(run / "map_metrics.json"),
            ]
        )
        == 0
    )
    (run / "rd_points.json").write_text(
        json.dumps(
            {
                "aekit": [[48, 21.5], [96, 25.0]],
                "jpeg": [{"bytes": 150, "psnr": 18.0}, {"bytes": 300, "psnr": 22.0}],
            }
        )
    )
    return run


def images(text):
    return [
        Image.open(io.BytesIO(base64.b64decode(b)))
        for b in re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    ]


def test_report_has_every_section_and_its_images_decode(run_dir, tmp_path):
    out = tmp_path / "report.html"
    assert main(["-q", "report", str(run_dir), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in text, sid
    assert "Autoencoder" in text and "masking" in text  # the configuration
    assert "knn_accuracy" in text and "psnr_db" in text  # metrics.json and map_metrics.json
    assert "jpeg #2" in text  # rate-distortion points tabulated
    imgs = images(text)
    # curves, reconstructions, map (files) + filters and rate-distortion (drawn from checkpoint / JSON)
    assert len(imgs) >= 5
    for img in imgs:
        img.load()
        assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100
    # self-contained: no reference to any other file
    assert not re.search(r'(src|href)="(?!data:|#)', text)


def test_report_tolerates_foreign_and_broken_files(tmp_path):
    run = tmp_path / "foreign"
    run.mkdir()
    (run / "results.json").write_text(json.dumps({"accuracy": 0.97, "nested": {"layers": [1, 2, 3]}}))
    (run / "broken.json").write_text("{not json")
    (run / "fake.png").write_bytes(b"not a png")
    text = build_report(run)
    assert "accuracy" in text and "0.97" in text
    assert "broken.json: not valid JSON" in text
    assert "no config.json" in text and "no training history" in text
    assert images(text) == []
    with pytest.raises(NotADirectoryError):
        build_report(tmp_path / "missing")
    with pytest.raises(ValueError, match=".html"):
        write_report(run, tmp_path / "report.txt")


def test_report_notes_hostile_json_and_goes_on(tmp_path):
    run = tmp_path / "hostile"
    run.mkdir()
    (run / "deep.json").write_text("[" * 100_000 + "]" * 100_000)  # RecursionError in json.loads
    (run / "bigint.json").write_text('{"n": ' + "9" * 5000 + "}")  # ValueError: int digits limit
    (run / "ok.json").write_text('{"accuracy": 0.5}')
    (run / "config.json").write_text(json.dumps({"class": "X", "history": {"train_loss": "abc"}}))
    text = build_report(run)
    assert "deep.json: nested too deeply" in text and "bigint.json: not valid JSON" in text
    assert "accuracy" in text  # the readable file is still shown
    assert "history in config.json could not be drawn" in text
    (run / "config.json").write_text(
        json.dumps({"class": "X", "history": {"train_loss": [1.0, 0.5], "epoch": [1]}})
    )
    assert "could not be drawn" in build_report(run)


def test_report_sections_claim_figures_by_whole_words(tmp_path):
    run = tmp_path / "names"
    run.mkdir()
    png = io.BytesIO()
    Image.new("L", (120, 120)).save(png, format="PNG")
    for name in (
        "ordered_samples",
        "decoder_outputs",
        "bitmap_examples",
        "codec_rd",
        "mnist_2d",
        "code_histograms",
    ):
        (run / f"{name}.png").write_bytes(png.getvalue())
    text = build_report(run)

    def section(sid):
        return re.search(f'<section id="{sid}">(.*?)</section>', text).group(1)

    other = section("other-figures")
    for name in (
        "ordered_samples",
        "decoder_outputs",
        "bitmap_examples",
    ):  # "rd", "code", "map" inside a word
        assert f"{name}.png" in other, name
    assert "codec_rd.png" in section("rate-distortion")
    assert "mnist_2d.png" in section("map") and "code_histograms.png" in section("codes")


def test_report_of_a_checkpoint_this_aekit_cannot_build(tmp_path):
    run = tmp_path / "other-family"
    run.mkdir()
    config = {
        "format": "aekit-checkpoint",
        "format_version": 1,
        "class": "SomeFutureModel",
        "args": {"layers": [3, 2]},
        "files": {},
        "history": {"epoch": [1, 2], "train_loss": [2.0, 1.0]},
    }
    (run / "config.json").write_text(json.dumps(config))
    text = build_report(run)
    assert "SomeFutureModel" in text and "args.layers" in text
    assert "could not be loaded" in text
    assert len(images(text)) == 1  # curves drawn from the history


def test_report_draws_reconstructions_from_the_checkpoint_given_data(run_dir, tmp_path):
    run = tmp_path / "ckpt"
    shutil.copytree(run_dir, run)
    (run / "reconstructions.png").unlink()
    assert "give --data" in build_report(run)
    assert main(["-q", "report", str(run), "--data", "digits", "--out", str(tmp_path / "r.html")]) == 0
    assert "reconstructions (drawn from the checkpoint)" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_rd_points_formats():
    assert rd_points({"a": [[1, 2.0], [2, 3.0]]}) == {"a": [(1.0, 2.0), (2.0, 3.0)]}
    recs = [{"method": "m", "bytes_per_image": 10, "psnr_db": 30.0}, {"method": "m", "bytes": 20, "psnr": 31}]
    assert rd_points({"results": {"points": recs}}) == {"m": [(10.0, 30.0), (20.0, 31.0)]}
    assert rd_points({"accuracy": 0.9, "hidden": [1000, 500]}) == {}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    out = tmp_path / "report.html"
    write_report(run_dir, out)
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            out.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Image.open(shot) as img:
        assert img.size == (1200, 1600)
        pixels = np.asarray(img.convert("L"), dtype=np.float64)
    # a rendered page: mostly white background, with text and figures (not blank, not an error page)
    assert pixels.mean() > 180 and pixels.std() > 20
