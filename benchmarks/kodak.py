"""Rate-distortion on the 24 Kodak images: aekit's shipped photo codecs against JPEG, WebP, AVIF, JPEG XL.

Bits per pixel come from the real bitstream bytes (8·len(stream) / (H·W)); for aekit the
likelihood estimate −Σ log2 P(ŷ) / (H·W) from the integer tables is reported beside it.
Quality is PSNR-RGB (10·log10(255² / MSE) over the three channels, per image, then averaged,
as CompressAI does) and MS-SSIM (Wang et al. 2003: 5 scales, 11×11 Gaussian window σ = 1.5,
weights 0.0448 0.2856 0.3001 0.2363 0.1333, on [0, 1] pixels, averaged over R, G, B).
BD-rate (Bjøntegaard, VCEG-M33, with piecewise-cubic interpolation of log-rate over PSNR)
is aekit's rate change against each peer at equal PSNR over the range both cover.

Peers: JPEG and WebP by Pillow; AVIF and JPEG XL by ``imagecodecs`` when installed (the
benchmark's own environment: ``python -m venv .bench-venv --system-site-packages &&
.bench-venv/bin/pip install imagecodecs``). CompressAI's published ``bmshj2018-factorized``
and ``bmshj2018-hyperprior``
Kodak curves are drawn on the same figure. Results: ``results/kodak.json`` (one entry per
codec in CompressAI's layout ``{"name", "results": {"bpp", "psnr-rgb", "ms-ssim"}}``) and
``results/kodak.png``.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/kodak.py
"""

from __future__ import annotations

import argparse
import io
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
KODAK = HERE.parent.parent / "shared" / "data" / "photos" / "kodak"
RESULTS = HERE / "results"

# CompressAI's published Kodak curves (bpp, PSNR-RGB dB), qualities 1..8, rounded from
# InterDigitalInc/CompressAI results/image/kodak/compressai-bmshj2018-{factorized,hyperprior}_mse_cuda.json
# (commit 3d3c9bb); the goal of issue 19 is within 1 dB of the factorized model's three lowest points.
PUBLISHED = {
    "compressai bmshj2018-factorized": (
        [0.1226, 0.1885, 0.2878, 0.4404, 0.6481, 0.9670, 1.3512, 1.8333],
        [26.909, 28.218, 29.617, 31.277, 32.956, 35.381, 37.397, 39.621],
    ),
    "compressai bmshj2018-hyperprior": (
        [0.1313, 0.2089, 0.3199, 0.4784, 0.6687, 0.9388, 1.2592, 1.6602],
        [27.582, 29.197, 30.972, 32.838, 34.526, 36.743, 38.584, 40.557],
    ),
}
GOAL_POINTS = 3  # the factorized model's lowest points the 1 dB goal is about
JPEG_QUALITIES = [2, 5, 8, 12, 18, 25, 35, 50, 65, 80]
WEBP_QUALITIES = [0, 3, 8, 15, 25, 35, 50, 65, 80]
AVIF_QUALITIES = [10, 20, 30, 40, 50, 60, 70]  # imagecodecs avif level (quality)
JXL_DISTANCES = [12.0, 9.0, 6.0, 4.0, 3.0, 2.0, 1.4]
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# ---------------------------------------------------------------- metrics
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * math.log10(255**2 / max(mse, 1e-12)))


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size, dtype=torch.float64) - size // 2) ** 2) / (2 * sigma**2))
    return g / g.sum()


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM of two uint8 (H, W, C) images (see the module docstring)."""
    x = torch.from_numpy(np.array(a)).double().permute(2, 0, 1)[None] / 255
    y = torch.from_numpy(np.array(b)).double().permute(2, 0, 1)[None] / 255
    c = x.shape[1]
    g = _gaussian()
    wx, wy = g.reshape(1, 1, 1, -1).repeat(c, 1, 1, 1), g.reshape(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(torch.nn.functional.conv2d(t, wx, groups=c), wy, groups=c)

    c1, c2 = 0.01**2, 0.03**2
    values = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        cs = (2 * sxy + c2) / (sxx + syy + c2)
        ssim = ((2 * mx * my + c1) / (mx**2 + my**2 + c1)) * cs
        values.append((ssim if level == len(MS_SSIM_WEIGHTS) - 1 else cs).mean((2, 3)).clamp_min(0))
        if level < len(MS_SSIM_WEIGHTS) - 1:
            x, y = (torch.nn.functional.avg_pool2d(t, 2, ceil_mode=False) for t in (x, y))
    w = torch.tensor(MS_SSIM_WEIGHTS, dtype=torch.float64)
    per_channel = torch.prod(torch.stack(values, 0).squeeze(1) ** w[:, None], 0)
    return float(per_channel.mean())


def bd_rate(rate_a: list, psnr_a: list, rate_b: list, psnr_b: list) -> float | None:
    """Bjøntegaard delta rate of A against B in percent (negative: A needs fewer bits), pchip variant."""
    from scipy.interpolate import PchipInterpolator

    def curve(rate: list, quality: list) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(quality)
        return np.asarray(quality)[order], np.log(np.asarray(rate)[order])

    qa, la = curve(rate_a, psnr_a)
    qb, lb = curve(rate_b, psnr_b)
    low, high = max(qa.min(), qb.min()), min(qa.max(), qb.max())
    if len(qa) < 2 or len(qb) < 2 or high <= low:
        return None
    ia = PchipInterpolator(qa, la).integrate(low, high)
    ib = PchipInterpolator(qb, lb).integrate(low, high)
    return float((math.exp((ia - ib) / (high - low)) - 1) * 100)


# ---------------------------------------------------------------- codecs
def _pillow(image: np.ndarray, fmt: str, quality: int) -> tuple[int, np.ndarray]:
    from PIL import Image

    buffer = io.BytesIO()
    options = {"quality": quality}
    if fmt == "WEBP":
        options["method"] = 6
    Image.fromarray(image).save(buffer, format=fmt, **options)
    data = buffer.getvalue()
    return len(data), np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _imagecodecs(image: np.ndarray, fmt: str, level: float) -> tuple[int, np.ndarray]:
    import imagecodecs

    if fmt == "avif":
        data = imagecodecs.avif_encode(image, level=int(level), speed=6)
        return len(data), imagecodecs.avif_decode(data)[..., :3]
    data = imagecodecs.jpegxl_encode(image, distance=level, effort=7)
    return len(data), imagecodecs.jpegxl_decode(data)[..., :3]


def peers() -> dict:
    """name -> (settings, function(image, setting) -> (bytes, decoded))."""
    table = {
        "JPEG (Pillow)": (JPEG_QUALITIES, lambda im, q: _pillow(im, "JPEG", q)),
        "WebP (Pillow)": (WEBP_QUALITIES, lambda im, q: _pillow(im, "WEBP", q)),
    }
    try:
        import imagecodecs

        if imagecodecs.AVIF.available:
            table["AVIF (imagecodecs, speed 6)"] = (AVIF_QUALITIES, lambda im, q: _imagecodecs(im, "avif", q))
        if imagecodecs.JPEGXL.available:
            table["JPEG XL (imagecodecs, effort 7)"] = (
                JXL_DISTANCES,
                lambda im, d: _imagecodecs(im, "jxl", d),
            )
    except ImportError:
        print("imagecodecs is not installed: AVIF and JPEG XL left out (see the module docstring)")
    return table


def measure_peer(name: str, settings: list, fn, images: list) -> dict:
    rows = {"bpp": [], "psnr-rgb": [], "ms-ssim": [], "setting": []}
    for s in settings:
        bpp, p, m = [], [], []
        for image in images:
            size, decoded = fn(image, s)
            bpp.append(8 * size / (image.shape[0] * image.shape[1]))
            p.append(psnr(image, decoded))
            m.append(ms_ssim(image, decoded))
        rows["bpp"].append(float(np.mean(bpp)))
        rows["psnr-rgb"].append(float(np.mean(p)))
        rows["ms-ssim"].append(float(np.mean(m)))
        rows["setting"].append(s)
        print(f"  {name} {s}: {rows['bpp'][-1]:.3f} bpp, {rows['psnr-rgb'][-1]:.2f} dB", flush=True)
    return {"name": name, "results": rows}


def measure_aekit(
    dirs: list[Path], images: list, names: list[str], family: str = "factorized"
) -> tuple[dict, list[dict]]:
    from aekit.codec.device import DeviceEncoder
    from aekit.codec.device_hyper import HyperDeviceDecoder
    from aekit.codec.device_photo import PhotoDeviceDecoder
    from aekit.codec.hyperprior import HyperpriorCodec
    from aekit.codec.photo_codecs import load_photo_codec

    rows = {"bpp": [], "bpp-estimate": [], "psnr-rgb": [], "ms-ssim": []}
    per_model = []
    for d in dirs:
        codec = load_photo_codec(d).eval()
        hyper = isinstance(codec, HyperpriorCodec)
        device = DeviceEncoder(d)
        cloud = HyperDeviceDecoder(d) if hyper else PhotoDeviceDecoder(d)
        bpp, est, p, m, t_enc, t_dec = [], [], [], [], [], []
        for image, name in zip(images, names):
            pixels = image.shape[0] * image.shape[1]
            start = time.perf_counter()
            data = device.compress(image)
            t_enc.append(time.perf_counter() - start)
            start = time.perf_counter()
            decoded = cloud.decompress(data)
            t_dec.append(time.perf_counter() - start)
            if not bpp:  # the torch decoder (the service's) on the first image: one level apart at most
                off = np.abs(decoded.astype(int) - codec.decompress(data)).max()
                assert off <= 1, f"{name}: the ONNX and torch decoders differ by {off} levels"
            bpp.append(8 * len(data) / pixels)
            if hyper:  # ẑ's and ŷ's likelihoods under the integer tables
                est.append(codec.estimated_bits(image) / pixels)
            else:
                symbols = codec.decompress_symbols(data)[0]  # what the stream carries
                est.append(float(codec.tables.bits(symbols).sum()) / pixels)
            p.append(psnr(image, decoded))
            m.append(ms_ssim(image, decoded))
        for key, values in zip(rows, (bpp, est, p, m)):
            rows[key].append(float(np.mean(values)))
        per_model.append(
            {
                "dir": str(d),
                "name": d.name,
                "model_id": codec.model_id.hex(),
                "bpp": rows["bpp"][-1],
                "bpp_estimate": rows["bpp-estimate"][-1],
                "psnr_rgb": rows["psnr-rgb"][-1],
                "ms_ssim": rows["ms-ssim"][-1],
                "device_encode_s": float(np.median(t_enc)),
                "cloud_decode_s": float(np.median(t_dec)),
            }
        )
        print(
            f"  aekit {d.name}: {rows['bpp'][-1]:.4f} bpp (estimate {rows['bpp-estimate'][-1]:.4f}), "
            f"{rows['psnr-rgb'][-1]:.2f} dB, MS-SSIM {rows['ms-ssim'][-1]:.4f}; "
            f"encode {np.median(t_enc):.2f} s, decode {np.median(t_dec):.2f} s (ONNX, median)",
            flush=True,
        )
    layout = (
        "bmshj2018-hyperprior layout, integer h_s"
        if family == "hyperprior"
        else "bmshj2018-factorized layout"
    )
    return {"name": f"aekit {family} photo codec ({layout})", "results": rows}, per_model


# ---------------------------------------------------------------- report
def figure(entries: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for e in entries:
        r = e["results"]
        style = "o-" if e["name"].startswith("aekit") else ("s--" if "compressai" in e["name"] else ".-")
        ax.plot(r["bpp"], r["psnr-rgb"], style, label=e["name"])
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("bits per pixel (real bytes)")
    ax.set_ylabel("PSNR-RGB (dB)")
    ax.set_title("Kodak (24 images)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(report: dict) -> str:
    """The tables of benchmarks/README.md: aekit's rate points, each codec's curve, BD-rates, the gap."""
    lines = [
        "| aekit model | model id | bpp (bytes) | bpp (likelihood) | PSNR-RGB dB | MS-SSIM | device encode s | cloud decode s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in report["aekit_models"]:
        lines.append(
            f"| {m['name']} | {m['model_id']} | {m['bpp']:.4f} | {m['bpp_estimate']:.4f} | {m['psnr_rgb']:.2f} | "
            f"{m['ms_ssim']:.4f} | {m['device_encode_s']:.2f} | {m['cloud_decode_s']:.2f} |"
        )
    lines += ["", "| codec | bpp | PSNR-RGB dB | BD-rate of aekit against it |", "|---|---|---|---|"]
    for e in report["codecs"]:
        r = e["results"]
        points = ", ".join(f"{b:.3f}" for b in r["bpp"])
        db = ", ".join(f"{d:.2f}" for d in r["psnr-rgb"])
        bd = report["bd_rate_percent"].get(e["name"])
        bd_text = "—" if e["name"].startswith("aekit") else ("no overlap" if bd is None else f"{bd:+.1f} %")
        lines.append(f"| {e['name']} | {points} | {db} | {bd_text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kodak", default=str(KODAK))
    p.add_argument(
        "--models", nargs="*", default=None, help="photo codec directories (default: the shipped ones)"
    )
    p.add_argument("--limit", type=int, default=None, help="only the first images (a smoke run)")
    p.add_argument(
        "--family", default="factorized", choices=["factorized", "hyperprior"], help="which shipped codecs"
    )
    p.add_argument("--no-peers", action="store_true")
    p.add_argument(
        "--peers-from", default=None, help="reuse the peers' rows of an earlier results JSON (same images)"
    )
    p.add_argument("--out", default=str(RESULTS / "kodak.json"))
    p.add_argument("--update-index", action="store_true", help="write the Kodak figures into models.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from aekit.codec import pixels, pretrained

    files = sorted(Path(args.kodak).glob("kodim*.png"))[: args.limit]
    images = [pixels.read_image(f) for f in files]
    names = [f.stem for f in files]
    dirs = (
        [Path(d) for d in args.models]
        if args.models
        else [pretrained.ROOT / e["name"] for e in pretrained.models() if pretrained.family(e) == args.family]
    )
    start = time.perf_counter()
    ours, per_model = measure_aekit(dirs, images, names, args.family)
    entries = [ours]
    if args.peers_from:
        earlier = json.loads(Path(args.peers_from).read_text())
        if earlier["images"] != names:
            raise SystemExit(f"{args.peers_from} measured other images: {earlier['images']}")
        entries += [e for e in earlier["codecs"][1:] if not e.get("published")]
    elif not args.no_peers:
        for name, (settings, fn) in peers().items():
            entries.append(measure_peer(name, settings, fn, images))
    for name, (bpp, db) in PUBLISHED.items():
        entries.append({"name": name, "results": {"bpp": bpp, "psnr-rgb": db}, "published": True})
    r = ours["results"]
    bd = {
        e["name"]: bd_rate(r["bpp"], r["psnr-rgb"], e["results"]["bpp"], e["results"]["psnr-rgb"])
        for e in entries[1:]
    }
    gaps = []
    published_bpp, published_db = PUBLISHED[f"compressai bmshj2018-{args.family}"]  # the same architecture
    for b, d in zip(published_bpp[:GOAL_POINTS], published_db[:GOAL_POINTS]):
        if min(r["bpp"]) <= b <= max(r["bpp"]):
            ours_db = float(
                np.interp(b, sorted(r["bpp"]), [x for _, x in sorted(zip(r["bpp"], r["psnr-rgb"]))])
            )
            gaps.append({"bpp": b, "compressai_db": d, "aekit_db": ours_db, "gap_db": ours_db - d})
    report = {
        "images": names,
        "seconds": time.perf_counter() - start,
        "codecs": entries,
        "aekit_models": per_model,
        "bd_rate_percent": bd,
        f"gap_to_bmshj2018_{args.family}": gaps,
        "machine": {"torch": torch.__version__, "threads": 1},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    figure(entries, out.with_suffix(".png"))
    out.with_suffix(".md").write_text(markdown(report))
    print(json.dumps({"bd_rate_percent": bd, "gap": gaps}, indent=1))
    if args.update_index:
        index = json.loads(pretrained.INDEX.read_text())
        for entry in index["models"]:
            for m in per_model:
                if m["model_id"] == entry["model_id"]:
                    entry["kodak"] = {
                        k: round(m[k], 4) for k in ("bpp", "bpp_estimate", "psnr_rgb", "ms_ssim")
                    }
        pretrained.INDEX.write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
