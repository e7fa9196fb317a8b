"""Denoising photographs: aekit's shipped denoisers against BM3D / CBM3D and tuned filters, same run.

The DnCNN protocol (Zhang et al., IEEE TIP 2017): the 8-bit test image x/255 plus
σ/255·N(0, 1) (fixed seeds, σ on the 0–255 scale, no clipping) is denoised; PSNR and
SSIM (scikit-image) are measured on the estimate rounded to 8 bits. Sets: BSD68 and
Set12 (grayscale), CBSD68 (colour), σ = 15, 25, 50. Peers: BM3D / CBM3D (the ``bm3d``
package, profile "np"), a median and a Gaussian filter whose parameter is tuned per σ
on noisy training images (Train400 / BSDS500 photos, never the test sets); the
published figures of BM3D, DnCNN and DRUNet beside them. Time per 481×321 image per
method, and its ratio to BM3D, in this run.

BM3D takes seconds per image: ``--bm3d-images`` scores it on an evenly spaced subset
of each set, and aekit's models are reported on that subset too, beside BM3D.

    python -m venv .bench-venv --system-site-packages && .bench-venv/bin/pip install bm3d
    OMP_NUM_THREADS=1 PYTHONPATH=src .bench-venv/bin/python benchmarks/denoise_photos.py --bm3d-images 4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from aekit import load
from aekit.data import find_images, read_image
from aekit.data.patches import load_uint8_images
from aekit.denoising import load_pretrained_denoiser
from aekit.io import atomic_write_text
from aekit.nn.denoisers import denoise

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
SETS = {"bsd68": ("denoise/bsd68", 1), "set12": ("denoise/set12", 1), "cbsd68": ("denoise/cbsd68", 3)}
TUNE = {1: "denoise/train400", 3: "photos/train"}
SIGMA_SEED = 1  # noise seeds: [seed, SIGMA_SEED, sigma, image index]; tuning images use 7
#: Published PSNR (dB) at σ = 15, 25, 50: DnCNN paper (Zhang et al. 2017, Tables II-III, V) and DRUNet
#: (Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", TPAMI 2021, Tables III-IV).
PUBLISHED = {
    "bsd68": {
        "BM3D": [31.07, 28.57, 25.62],
        "DnCNN-S": [31.73, 29.23, 26.23],
        "DnCNN-B (blind)": [31.61, 29.16, 26.23],
        "DRUNet": [31.91, 29.48, 26.59],
    },
    "set12": {
        "BM3D": [32.37, 29.97, 26.72],
        "DnCNN-S": [32.86, 30.44, 27.18],
        "DRUNet": [33.25, 30.94, 27.90],
    },
    "cbsd68": {
        "CBM3D": [33.52, 30.71, 27.38],
        "CDnCNN-B": [33.89, 31.23, 27.92],
        "DRUNet": [34.30, 31.69, 28.51],
    },
}
FILTERS: dict[str, tuple[list[float], Callable[[np.ndarray, float], np.ndarray]]] = {
    "median filter": ([3, 5, 7, 9], lambda y, s: ndimage.median_filter(y, size=(1, int(s), int(s)))),
    "gaussian filter": (
        [0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0],
        lambda y, s: ndimage.gaussian_filter(y, sigma=(0, s, s)),
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", default="bsd68,set12,cbsd68")
    p.add_argument("--sigmas", default="15,25,50")
    p.add_argument("--images", type=int, default=0, help="score an evenly spaced subset of N images (0: all)")
    p.add_argument("--bm3d-images", type=int, default=4, help="images per set scored by BM3D (0: none)")
    p.add_argument("--bm3d-sigmas", default="15,25,50", help="the noise levels BM3D is scored at")
    p.add_argument("--gray-model", default="gray-blind", help="shipped name or checkpoint directory")
    p.add_argument("--color-model", default="color-blind", help="shipped name or checkpoint directory")
    p.add_argument("--tune-images", type=int, default=6, help="noisy training images that tune the filters")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(HERE / "results" / "denoise_photos.json"))
    p.add_argument("--figure", default=str(HERE / "results" / "denoise_photos.png"))
    return p.parse_args(argv)


def subset(n: int, k: int) -> list[int]:
    """``k`` evenly spaced indices of ``range(n)`` (all of them when k is 0 or >= n)."""
    return list(range(n)) if k <= 0 or k >= n else [round((i + 0.5) * n / k) for i in range(k)]


def noisy(clean: np.ndarray, sigma: float, seed: list[int]) -> np.ndarray:
    """x/255 + σ/255·N(0, 1), float64, not clipped (the DnCNN protocol)."""
    return clean / 255.0 + sigma / 255.0 * np.random.default_rng(seed).standard_normal(clean.shape)


def quantised(estimate: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(estimate * 255.0), 0, 255).astype(np.uint8)


def score(clean: np.ndarray, estimate: np.ndarray) -> tuple[float, float]:
    """PSNR and SSIM of the 8-bit estimate against the (C, H, W) uint8 clean image."""
    est = quantised(estimate)
    psnr = peak_signal_noise_ratio(clean, est, data_range=255)
    ssim = structural_similarity(clean, est, data_range=255, channel_axis=0)
    return float(psnr), float(ssim)


def tuned_filters(channels: int, sigmas: list[float], n: int, seed: int) -> dict:
    """{filter: {σ: parameter}}: the best PSNR on ``n`` noisy training images (never the test sets)."""
    paths = find_images(DATA / TUNE[channels])[0][:n]
    images = [
        np.rint(read_image(p, mode="L" if channels == 1 else "RGB") * 255).astype(np.uint8) for p in paths
    ]
    best: dict = {}
    for name, (grid, apply) in FILTERS.items():
        for sigma in sigmas:
            ys = [noisy(x, sigma, [seed, 7, int(sigma), i]) for i, x in enumerate(images)]
            psnr = {p: np.mean([score(x, apply(y, p))[0] for x, y in zip(images, ys)]) for p in grid}
            best.setdefault(name, {})[sigma] = max(grid, key=psnr.__getitem__)
    return best


def filter_method(name: str, parameters: dict) -> Callable[[np.ndarray, float], np.ndarray]:
    """The filter ``name`` with the parameter tuned for each σ."""
    apply = FILTERS[name][1]
    return lambda y, sigma: apply(y, parameters[sigma])


def bm3d_method(channels: int) -> Callable[[np.ndarray, float], np.ndarray]:
    import bm3d  # the benchmark's own venv

    if channels == 1:
        return lambda y, sigma: bm3d.bm3d(y[0], sigma / 255.0)[None]
    return lambda y, sigma: np.moveaxis(bm3d.bm3d_rgb(np.moveaxis(y, 0, -1), sigma / 255.0), -1, 0)


def model_method(spec: str) -> tuple[Callable[[np.ndarray, float], np.ndarray], dict]:
    model = load(spec) if Path(spec).is_dir() else load_pretrained_denoiser(spec)
    model.eval()
    return (lambda y, sigma: denoise(model, y.astype(np.float32))), {"model": spec, "config": model.config}


def timed(
    fn: Callable[[np.ndarray, float], np.ndarray], y: np.ndarray, sigma: float
) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn(y, sigma)
    return out, time.perf_counter() - start


def run_set(name: str, args: argparse.Namespace, sigmas: list[float], crops: dict) -> dict:
    folder, channels = SETS[name]
    images = load_uint8_images(DATA / folder, mode="L" if channels == 1 else "RGB")
    chosen = subset(len(images), args.images)
    bm3d_ids = set(chosen[i] for i in subset(len(chosen), args.bm3d_images)) if args.bm3d_images else set()
    ours, info = model_method(args.gray_model if channels == 1 else args.color_model)
    params = tuned_filters(channels, sigmas, args.tune_images, args.seed)
    methods = {"aekit": ours, **{f: filter_method(f, params[f]) for f in FILTERS}}
    if bm3d_ids:
        methods["BM3D" if channels == 1 else "CBM3D"] = bm3d_method(channels)
    rows: dict = {m: {} for m in ["noisy input", *methods]}
    bm3d_sigmas = [float(v) for v in args.bm3d_sigmas.split(",")]
    for sigma in sigmas:
        per: dict = {m: [] for m in rows}  # (image index, psnr, ssim, seconds, 481x321?)
        for i in chosen:
            x = images[i]
            y = noisy(x, sigma, [args.seed, SIGMA_SEED, int(sigma), i])
            per["noisy input"].append((i, *score(x, y), 0.0, False))
            for m, fn in methods.items():
                if m.endswith("BM3D") and (i not in bm3d_ids or sigma not in bm3d_sigmas):
                    continue
                est, seconds = timed(fn, y, sigma)
                per[m].append((i, *score(x, est), seconds, sorted(x.shape[1:]) == [321, 481]))
                if i == min(bm3d_ids or chosen) and sigma == 25:
                    crops.setdefault(name, {"clean": x / 255.0, "noisy": y})[m] = est
        for m, results in per.items():
            if results:
                rows[m][str(int(sigma))] = summary(results, bm3d_ids)
        print(
            name,
            sigma,
            {m: r[str(int(sigma))]["psnr_db"] for m, r in rows.items() if str(int(sigma)) in r},
            flush=True,
        )
    return {
        "images": len(chosen),
        "of": len(images),
        "bm3d_images": sorted(bm3d_ids),
        "bm3d_sigmas": bm3d_sigmas,
        "aekit_model": info,
        "filter_parameters": params,
        "methods": rows,
        "published_psnr_db": PUBLISHED[name],
    }


def summary(results: list[tuple], bm3d_ids: set[int]) -> dict:
    """Means over the images scored, and over BM3D's subset (to compare with it on the same images)."""
    if not results:
        return {}
    arr = np.array([r[1:4] for r in results], dtype=float)
    out = {"n": len(results), "psnr_db": arr[:, 0].mean(), "ssim": arr[:, 1].mean()}
    sub = [r for r in results if r[0] in bm3d_ids]
    if sub and len(sub) < len(results):
        out["psnr_db_bm3d_subset"] = float(np.mean([r[1] for r in sub]))
        out["ssim_bm3d_subset"] = float(np.mean([r[2] for r in sub]))
    sizes = [r[3] for r in results if r[4]]
    if sizes:
        out["seconds_per_481x321"] = float(np.mean(sizes))
    return {k: float(v) if isinstance(v, np.floating) else v for k, v in out.items()}


def speed_ratios(result: dict) -> dict:
    """Seconds per 481×321 image of each method at σ = 25, and BM3D's time over it (x faster)."""
    out = {}
    for name, res in result["sets"].items():
        rows = {m: r.get("25", {}).get("seconds_per_481x321") for m, r in res["methods"].items()}
        peer = rows.get("BM3D") or rows.get("CBM3D")
        out[name] = {
            m: {"seconds": s, "times_faster_than_bm3d": (peer / s if peer and s else None)}
            for m, s in rows.items()
            if s
        }
    return out


def figure(crops: dict, path: Path, size: int = 96) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(crops)
    cols = max(len(c) for c in crops.values())
    fig, axes = plt.subplots(len(names), cols, figsize=(2.2 * cols, 2.4 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for c, (label, img) in enumerate(crops[name].items()):
            h, w = img.shape[1:]
            top, left = (h - size) // 2, (w - size) // 2
            crop = np.clip(img[:, top : top + size, left : left + size], 0, 1)
            ax = axes[r, c]
            ax.imshow(
                crop[0] if crop.shape[0] == 1 else np.moveaxis(crop, 0, -1), cmap="gray", vmin=0, vmax=1
            )
            ax.set_title(f"{name}: {label}", fontsize=8)
        for ax in axes[r]:
            ax.axis("off")
    fig.suptitle("σ = 25, one crop per method")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    sigmas = [float(s) for s in args.sigmas.split(",")]
    start = time.perf_counter()
    crops: dict = {}
    result: dict = {
        "benchmark": "denoise_photos",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "protocol": "x/255 + sigma/255 N(0,1), no clipping, fixed seeds; PSNR/SSIM of the estimate rounded to "
        "8 bits (scikit-image); filters tuned per sigma on noisy training images",
        "torch_threads": torch.get_num_threads(),
        "sets": {},
    }
    for name in args.sets.split(","):
        result["sets"][name] = run_set(name, args, sigmas, crops)
    result["speed_sigma25"] = speed_ratios(result)
    result["seconds"] = time.perf_counter() - start
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    figure(crops, Path(args.figure))
    print(json.dumps(result["speed_sigma25"], indent=1), f"\n-> {args.out}, {args.figure}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
