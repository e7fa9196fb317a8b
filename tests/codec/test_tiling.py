"""Photos by tiles with context: the tiles cover the photo once, the result equals the whole-photo
computation (and differs with too small a margin), the stream does not depend on the tiling, and a
12-megapixel photo stays in bounded memory."""

import io
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from aekit.cli import main
from aekit.codec import create_app, pretrained, tiling
from aekit.codec.device_photo import PhotoDeviceDecoder, PhotoDeviceEncoder
from aekit.codec.photo import PhotoCodec

SRC = Path(__file__).resolve().parents[2] / "src"


def photo(h: int, w: int, c: int = 3) -> np.ndarray:
    rng = np.random.default_rng(h * 1000 + w)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    smooth = np.stack([0.5 + 0.4 * np.sin(5 * xx + k) * np.cos(4 * yy) for k in range(c)], -1)
    return np.clip(np.rint(smooth * 255 + rng.normal(0, 8, smooth.shape)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    return PhotoCodec(3, 8, 12).update().eval()


@pytest.mark.parametrize(
    ("h", "w", "tile", "margin", "align"), [(97, 130, 32, 16, 16), (5, 7, 2, 3, 1), (64, 64, 0, 32, 16)]
)
def test_windows_cover_the_input_once_with_clipped_context(h, w, tile, margin, align):
    seen = np.zeros((h, w), dtype=int)
    for win in tiling.windows(h, w, tile, margin, align) if margin % align == 0 else []:
        top, left, bottom, right = win.box
        wt, wl, wb, wr = win.window
        seen[top:bottom, left:right] += 1
        assert top % align == 0 and left % align == 0 and wt % align == 0 and wl % align == 0
        assert (wt, wl) == (max(top - margin, 0), max(left - margin, 0))
        assert (wb, wr) == (min(bottom + margin, h), min(right + margin, w))
    if margin % align == 0:
        assert (seen == 1).all()
    else:
        with pytest.raises(ValueError, match="multiples of the alignment"):
            tiling.windows(h, w, tile, margin, align)


@pytest.mark.parametrize("tile", [True, 1.5, "64", -16, 16, 40, 1000])
def test_a_bad_tile_is_refused_naming_it(tile):
    with pytest.raises(ValueError, match="tile must be"):
        tiling.check_tile(tile)


def test_tiled_runs_a_transform_exactly_where_its_receptive_field_fits():
    """A 3×3 box filter (radius 1) by tiles with margin 1 equals it on the whole; margin 0 does not."""

    def box3(a: np.ndarray) -> np.ndarray:
        p = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
        return sum(p[..., i : i + a.shape[2], j : j + a.shape[3]] for i in range(3) for j in range(3))

    x = np.random.default_rng(0).normal(size=(1, 2, 11, 9))
    whole = box3(x)
    for margin, same in ((1, True), (0, False)):
        out = np.empty_like(whole)
        for (t, left, b, r), part in tiling.tiled(
            box3, lambda w: x[..., w[0] : w[2], w[1] : w[3]], 11, 9, scale=Fraction(1), tile=4, margin=margin
        ):
            out[..., t:b, left:r] = part
        assert np.allclose(out, whole) is same


@pytest.mark.parametrize("size", [(97, 130), (33, 200), (16, 16)])
def test_tiled_analysis_and_synthesis_equal_the_whole_photo(codec, size):
    image = photo(*size)
    y_whole = codec.latents(image, tile=0)
    y_tiled = codec.latents(image, tile=32)
    assert y_tiled.shape == y_whole.shape and np.abs(y_tiled - y_whole).max() < 1e-5
    data = codec.compress(image, tile=0)
    assert codec.compress(image, tile=32) == data  # the stream does not depend on the tiling
    x_whole = codec.decompress(data, tile=0).astype(int)
    assert np.abs(codec.decompress(data, tile=32) - x_whole).max() <= 1  # float rounding: one level at most


def assemble(transform, x: np.ndarray, scale: Fraction, tile: int, margin: int, align: int) -> np.ndarray:
    """transform(x) for x (1, C, H, W) from the tiles of :func:`tiling.tiled`, in float."""
    out = None
    for (t, left, b, r), part in tiling.tiled(
        transform, lambda w: np.ascontiguousarray(x[..., w[0] : w[2], w[1] : w[3]]), *x.shape[2:],
        scale=scale, tile=tile, margin=margin, align=align,
    ):  # fmt: skip
        if out is None:
            out = np.zeros((1, part.shape[1], int(x.shape[2] * scale), int(x.shape[3] * scale)), np.float32)
        out[..., t:b, left:r] = part
    return out


@pytest.mark.parametrize("half", ["g_a", "g_s"])
def test_the_margins_are_exactly_the_receptive_fields(half):
    """With the margins, the transforms by tiles equal the whole computation to float rounding; one stride
    less of margin and the tiles' borders differ (a trained model: its outputs use the whole range)."""
    from aekit.codec import pretrained

    codec = PhotoCodec.load(pretrained.model_dir(1)).eval()
    rng = np.random.default_rng(0)
    if half == "g_a":
        x = tiling.pixels.to_input(photo(96, 128))
        scale, margin, align, tile = Fraction(1, 16), tiling.ANALYSIS_MARGIN, 16, 32
    else:
        x = rng.integers(-3, 4, size=(1, codec.M, 6, 8)).astype(np.float32)
        scale, margin, align, tile = Fraction(16), tiling.SYNTHESIS_MARGIN, 1, 2
    run = codec._run(getattr(codec, half))
    whole = run(x)
    assert np.abs(assemble(run, x, scale, tile, margin, align) - whole).max() < 1e-4
    assert np.abs(assemble(run, x, scale, tile, margin - align, align) - whole).max() > 1e-2


def test_the_device_halves_tile_too(codec, tmp_path):
    path = codec.save(tmp_path / "p", export=True)
    image = photo(70, 100)
    encoder, decoder = PhotoDeviceEncoder(path), PhotoDeviceDecoder(path)
    assert np.abs(encoder.latents(image, tile=32) - encoder.latents(image, tile=0)).max() < 1e-5
    data = encoder.compress(image, tile=32)
    assert np.abs(decoder.decompress(data, tile=32).astype(int) - decoder.decompress(data, tile=0)).max() <= 1


PEAK = """
import json, sys, numpy as np
sys.modules["torch"] = None  # the device side, without torch
from pathlib import Path
from aekit.codec import PhotoDeviceDecoder, PhotoDeviceEncoder, pretrained
path = pretrained.model_dir(1)
yy, xx = np.mgrid[0:3000, 0:4000].astype(np.float32) / 4000
image = np.rint(np.stack([127 + 100 * np.sin(9 * xx + k) * np.cos(7 * yy) for k in range(3)], -1)).astype(np.uint8)
del yy, xx
data = PhotoDeviceEncoder(path).compress(image)
out = PhotoDeviceDecoder(path).decompress(data)
assert out.shape == image.shape
peak = [int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:")][0]
print(json.dumps({"peak_kib": peak, "bytes": len(data)}))
"""


@pytest.mark.slow
def test_a_12_megapixel_photo_codes_and_decodes_under_2_gb():
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["peak_kib"] < 2 << 20, result


def test_cli_tile_gives_the_same_stream_and_refuses_a_bad_tile_in_one_line(tmp_path, capsys):
    Image.fromarray(photo(70, 100)).save(tmp_path / "p.png")
    streams = []
    for tile in ("32", "0"):
        out = tmp_path / f"p{tile}.aek"
        assert (
            main(
                [
                    "-q",
                    "codec",
                    "compress",
                    str(tmp_path / "p.png"),
                    "--quality",
                    "1",
                    "--tile",
                    tile,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        streams.append(out.read_bytes())
    assert streams[0] == streams[1]
    back = tmp_path / "back.png"
    assert (
        main(["-q", "codec", "decompress", str(tmp_path / "p32.aek"), "--tile", "48", "--out", str(back)])
        == 0
    )
    assert np.asarray(Image.open(back)).shape == (70, 100, 3)
    code = main(["codec", "decompress", str(tmp_path / "p32.aek"), "--tile", "40", "--out", str(back)])
    err = capsys.readouterr().err
    assert code == 2 and "--tile" in err and "'40'" in err and "Traceback" not in err


def test_the_service_decodes_by_its_tiles_and_bounds_a_photo_by_its_pixels():

    codec = PhotoCodec.load(pretrained.model_dir(1))
    data = codec.compress(photo(70, 100))
    headers = {"Content-Type": "application/octet-stream"}
    with pytest.raises(ValueError, match="tile must be"):
        create_app([pretrained.model_dir(1)], tile=40)
    with TestClient(create_app([pretrained.model_dir(1)], tile=32, max_output=70 * 100 * 3)) as client:
        r = client.post("/v1/decode", content=data, headers=headers)
        assert r.status_code == 200
        decoded = np.asarray(Image.open(io.BytesIO(r.content))).astype(int)
        assert np.abs(decoded - codec.decompress(data, tile=0)).max() <= 1
        bigger = codec.compress(photo(70, 101))  # one column more than the limit's pixels
        assert client.post("/v1/decode", content=bigger, headers=headers).status_code == 413


def test_the_service_admits_a_12_megapixel_photo_by_its_tile_not_its_whole_decode():
    """The memory a photo request reserves counts g_s's activations over one tile (with context),
    not over the whole photo: a 4000×3000 photo fits the default budget only because it is tiled."""
    from aekit.codec.service.admission import DEFAULT_MAX_MEMORY
    from aekit.codec.service.models import load_models
    from aekit.codec.service.state import Service

    registry = load_models([pretrained.model_dir(1)])
    key = next(iter(registry.photos))
    whole = Service.start(registry, batching=False, tile=0).photo_work(key, 3000, 4000)
    tiles = Service.start(registry, batching=False, tile=512).photo_work(key, 3000, 4000)
    small = Service.start(registry, batching=False, tile=512).photo_work(key, 64, 64)
    assert tiles < DEFAULT_MAX_MEMORY < whole
    assert small == Service.start(registry, batching=False, tile=0).photo_work(key, 64, 64)
