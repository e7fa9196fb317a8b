"""Phone-sized photos by tiles (issue 21 item 4): peak memory at 12 megapixels, and what tiling costs on Kodak.

Two parts (``--part memory``, ``--part kodak``; both by default):

memory
    A 4000×3000 photo (Kodak's kodim23 upscaled with Lanczos; the content only sets the rate) is
    compressed on the device side (:class:`aekit.codec.PhotoDeviceEncoder`: onnxruntime, torch
    blocked) and decoded by the service (``POST /v1/decode`` through :func:`aekit.codec.create_app`,
    torch), each in a fresh subprocess, by tiles (``--tile``, aekit's default: 512) and whole (tile 0).
    Peak RSS is the process's VmHWM from /proc/self/status (the high-water mark of its resident
    memory), beside its resident memory before the work (imports and model loaded).
kodak
    The 24 Kodak images (768×512) coded whole and by 256-pixel tiles with context (6 tiles, so
    seams cross every image), and, for reference, by 256-pixel tiles coded as independent photos
    (the naive tiling, each tile padded at its own borders): bits per pixel from the stream bytes,
    PSNR-RGB of the image, and the border PSNR of each seam (a row or column line between tiles):
    over the pixels within ``--border`` (4) pixels of it. The goal: no seam's border more than 0.5 dB
    below the image's mean PSNR. The whole-image decode measured over the same bands tells how much of
    a border's drop is the content there rather than the tiling.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/tiles.py
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
KODAK = HERE.parent.parent / "shared" / "data" / "photos" / "kodak"
RESULTS = HERE / "results"
PHONE = (3000, 4000)  # H, W: 12 megapixels


def vmhwm_mib() -> float:
    """Peak resident memory of this process so far (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def vmrss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# ---------------------------------------------------------------- children (one measurement each)
def child_encode(model: str, photo: str, out: str, tile: int) -> dict:
    sys.modules["torch"] = None  # type: ignore[assignment]  # the device side runs without torch
    from aekit.codec import PhotoDeviceEncoder

    encoder = PhotoDeviceEncoder(model, threads=1)
    before = vmrss_mib()
    start = time.perf_counter()
    data = encoder.compress(Path(photo), tile=tile)
    seconds = time.perf_counter() - start
    Path(out).write_bytes(data)
    return {"before_mib": before, "peak_mib": vmhwm_mib(), "seconds": seconds, "bytes": len(data)}


def child_decode(model: str, stream: str, out: str, tile: int) -> dict:
    from fastapi.testclient import TestClient

    from aekit.codec import create_app

    data = Path(stream).read_bytes()
    with TestClient(create_app([model], tile=tile, threads=1)) as client:
        before = vmrss_mib()
        start = time.perf_counter()
        r = client.post("/v1/decode", content=data, headers={"Content-Type": "application/octet-stream"})
        seconds = time.perf_counter() - start
    if r.status_code != 200:
        raise SystemExit(f"the service answered {r.status_code}: {r.text}")
    Path(out).write_bytes(r.content)
    return {"before_mib": before, "peak_mib": vmhwm_mib(), "seconds": seconds, "png_bytes": len(r.content)}


def run_child(*args: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- memory at 12 Mpx
def memory(model: Path, tile: int, whole: bool) -> dict:
    from benchmarks.kodak import psnr
    from PIL import Image

    from aekit.codec import pixels

    results: dict = {"photo": f"{PHONE[1]}×{PHONE[0]}", "tile": tile, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "phone.png"
        source = Image.open(KODAK / "kodim23.png").convert("RGB")
        source.resize((PHONE[1], PHONE[0]), Image.LANCZOS).save(photo)
        original = pixels.read_image(photo)
        for t in [tile] + ([0] if whole else []):
            stream, png = Path(tmp) / f"phone-{t}.aek", Path(tmp) / f"phone-{t}.png"
            enc = run_child("encode", str(model), str(photo), str(stream), str(t))
            dec = run_child("decode", str(model), str(stream), str(png), str(t))
            decoded = pixels.read_image(png)
            run = {
                "tile": t,
                "encode": enc,
                "decode": dec,
                "bpp": 8 * enc["bytes"] / (PHONE[0] * PHONE[1]),
                "psnr_rgb": psnr(original, decoded),
            }
            print(json.dumps(run), flush=True)
            results["runs"].append(run)
        if whole:
            a, b = (Path(tmp) / f"phone-{t}.aek" for t in (tile, 0))
            results["same_stream"] = a.read_bytes() == b.read_bytes()
    return results


# ---------------------------------------------------------------- cost on Kodak
def seam_masks(height: int, width: int, tile: int, border: int) -> list[np.ndarray]:
    """One boolean (H, W) mask per tile seam (each inner tile edge, a whole row or column line): the
    pixels within ``border`` of it."""
    masks = []
    for s in range(tile, height, tile):
        mask = np.zeros((height, width), dtype=bool)
        mask[max(s - border, 0) : s + border, :] = True
        masks.append(mask)
    for s in range(tile, width, tile):
        mask = np.zeros((height, width), dtype=bool)
        mask[:, max(s - border, 0) : s + border] = True
        masks.append(mask)
    return masks


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    err = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    return float(10 * math.log10(255**2 / max(err[mask].mean(), 1e-12)))


def summarize(rows: list[dict], model: str, tile: int, border: int) -> dict:
    """Means over the images, the worst seams, and each tiling's seams against the whole-image decode
    over the same bands (content-matched: what the tiling itself costs at a seam)."""
    from aekit.codec import pixels

    summary = {
        "model": model,
        "tile": tile,
        "border": border,
        "images": len(rows),
        "same_streams": sum(r["same_stream"] for r in rows),
        "pixels_differing": sum(r["pixels_differing"] for r in rows),
        "pixels": sum(int(np.prod(pixels.read_image(KODAK / r["image"]).shape[:2])) for r in rows),
        "max_pixel_difference": max(r["max_pixel_difference"] for r in rows),
    }
    for name in ("whole", "tiled", "naive"):
        for key in ("bpp", "psnr", "seam_drop"):
            summary[f"{key}_{name}"] = float(np.mean([r[f"{key}_{name}"] for r in rows]))
        summary[f"max_seam_drop_{name}"] = float(max(r[f"seam_drop_{name}"] for r in rows))
        summary[f"seams_over_0.5dB_{name}"] = sum(
            sum(r[f"psnr_{name}"] - p > 0.5 for p in r[f"seam_psnr_{name}"]) for r in rows
        )
    summary["seams"] = sum(len(r["seam_psnr_whole"]) for r in rows)
    for name in ("tiled", "naive"):
        summary[f"max_seam_{name}_below_whole_db"] = float(
            max(max(np.subtract(r["seam_psnr_whole"], r[f"seam_psnr_{name}"])) for r in rows)
        )
    return summary


def kodak(model: Path, tile: int, border: int) -> dict:
    from benchmarks.kodak import psnr

    from aekit.codec import PhotoCodec, pixels

    codec = PhotoCodec.load(model)
    rows = []
    for path in sorted(KODAK.glob("*.png")):
        image = pixels.read_image(path)
        h, w = image.shape[:2]
        masks = seam_masks(h, w, tile, border)
        whole = codec.compress(image, tile=0)
        tiled = codec.compress(image, tile=tile)
        x_whole = codec.decompress(whole, tile=0)
        x_tiled = codec.decompress(tiled, tile=tile)
        naive_bytes, x_naive = 0, np.empty_like(image)
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                part = np.ascontiguousarray(image[top : top + tile, left : left + tile])
                data = codec.compress(part, tile=0)
                naive_bytes += len(data)
                x_naive[top : top + tile, left : left + tile] = codec.decompress(data, tile=0)
        row = {
            "image": path.name,
            "same_stream": whole == tiled,
            "pixels_differing": int((x_whole != x_tiled).any(2).sum()),
            "max_pixel_difference": int(np.abs(x_whole.astype(int) - x_tiled).max()),
            "bpp_whole": 8 * len(whole) / (h * w),
            "bpp_tiled": 8 * len(tiled) / (h * w),
            "bpp_naive": 8 * naive_bytes / (h * w),
        }
        for name, x in (("whole", x_whole), ("tiled", x_tiled), ("naive", x_naive)):
            row[f"psnr_{name}"] = psnr(image, x)
            seams = [masked_psnr(image, x, mask) for mask in masks]
            row[f"seam_psnr_{name}"] = seams
            row[f"seam_drop_{name}"] = row[f"psnr_{name}"] - min(seams)  # the worst seam of the image
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = summarize(rows, model.name, tile, border)
    print(json.dumps(summary), flush=True)
    return {"summary": summary, "images": rows}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, model, source, out, tile = sys.argv[2:7]
        child = child_encode if kind == "encode" else child_decode
        print(json.dumps(child(model, source, out, int(tile))))
        return
    sys.path.insert(0, str(HERE.parent))
    from aekit.codec import pretrained
    from aekit.codec.tiling import DEFAULT_TILE

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["memory", "kodak", "all"], default="all")
    parser.add_argument("--quality", type=int, default=2, help="shipped codec (2)")
    parser.add_argument(
        "--tile", type=int, default=DEFAULT_TILE, help=f"memory: tile side in pixels ({DEFAULT_TILE})"
    )
    parser.add_argument("--no-whole", action="store_true", help="memory: skip the whole-photo run (tile 0)")
    parser.add_argument("--kodak-tile", type=int, default=256, help="kodak: tile side in pixels (256)")
    parser.add_argument("--border", type=int, default=4, help="kodak: pixels either side of a seam (4)")
    parser.add_argument("--out", default=str(RESULTS / "tiles.json"))
    args = parser.parse_args()
    model = pretrained.model_dir(args.quality)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    if args.part in ("memory", "all"):
        results["memory"] = memory(model, args.tile, not args.no_whole)
    if args.part in ("kodak", "all"):
        results["kodak"] = kodak(model, args.kodak_tile, args.border)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
