"""Speed against CompressAI on Kodak: same images, same run, same threads (issue 19's goal; issue 21's reference).

CompressAI 1.2.8 does not import beside aekit's torch 2.13, so it runs in its own virtualenv (not
``--system-site-packages``), with the torch it imports with::

    python3 -m venv /work/peer-venv
    /work/peer-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 && /work/peer-venv/bin/pip install compressai==1.2.8

This script runs in aekit's interpreter and starts the peer interpreter as a child that answers timing
requests on stdin / stdout; the two alternate image by image, so the load of a shared machine falls on
both alike. Both use one thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``, onnxruntime
``threads=1``). Per image, the best of ``--repeat`` runs of:

- aekit **device encode**: ``PhotoDeviceEncoder.compress(pixels)`` (onnxruntime g_a, quantise, range
  code, frame), and **cloud decode**: ``PhotoCodec.decompress(stream)`` (range decode, torch g_s, uint8),
  which is what ``POST /v1/decode`` runs; the ONNX decoder ``PhotoDeviceDecoder`` beside it;
- CompressAI ``compress(x)`` / ``decompress(strings, shape)`` from the same uint8 pixels and back to
  uint8, for **the same architecture**: ``FactorizedPrior(N=64, M=96)`` with the aekit rate point's
  g_a / g_s weights copied in (the transforms compute the same function; CompressAI's entropy
  bottleneck is its own, at random initialisation, updated); and, for reference, the zoo's
  ``bmshj2018-factorized`` and ``bmshj2018-hyperprior`` at qualities 1–3 (N = 128, M = 192) with
  random weights (``pretrained=False``: nothing can be downloaded here; speed does not need trained
  weights, but random entropy models code more symbols far from 0 than trained ones).

Results: ``results/compressai_speed.json`` (per model the summed seconds over the images and the
ratios aekit / CompressAI; goal ≤ 0.7).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/compressai_speed.py
"""

from __future__ import annotations

import argparse
import json
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
PEER_PYTHON = "/work/peer-venv/bin/python"
QUALITIES = (1, 2, 3)


# ---------------------------------------------------------------- the peer (runs in CompressAI's venv)
def peer(weights_dir: str) -> None:
    """Answer one JSON line per request {"image": path, "repeat": k} with CompressAI's timings."""
    import warnings

    warnings.simplefilter("ignore")
    import torch
    from compressai.models import FactorizedPrior
    from compressai.zoo import bmshj2018_factorized, bmshj2018_hyperprior
    from PIL import Image

    torch.set_num_threads(1)
    models = {}
    for q in QUALITIES:
        model = FactorizedPrior(64, 96)
        with np.load(Path(weights_dir) / f"q{q}.npz", allow_pickle=False) as f:
            state = {k: torch.from_numpy(f[k]) for k in f.files}
        missing = model.load_state_dict(state, strict=False)
        if missing.unexpected_keys or any(
            k.startswith(("g_a.", "g_s.")) and not k.endswith(("pedestal", "bound"))
            for k in missing.missing_keys
        ):
            raise SystemExit(f"aekit q{q}'s transforms do not fit FactorizedPrior(64, 96): {missing}")
        models[f"same architecture q{q} (N=64, M=96)"] = model
        models[f"bmshj2018-factorized q{q} (random)"] = bmshj2018_factorized(q, pretrained=False)
        models[f"bmshj2018-hyperprior q{q} (random)"] = bmshj2018_hyperprior(q, pretrained=False)
    for model in models.values():
        model.eval().update(force=True)
    print(json.dumps({"ready": torch.__version__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        image = np.asarray(Image.open(request["image"]).convert("RGB"))
        answer = {}
        if request.get("check"):  # g_a of the same-architecture q1 on a 64×64 crop, to compare with aekit's
            crop = (
                torch.from_numpy(np.ascontiguousarray(image[:64, :64]))
                .permute(2, 0, 1)[None]
                .float()
                .div(255)
            )
            with torch.no_grad():
                y = models[f"same architecture q{QUALITIES[0]} (N=64, M=96)"].g_a(crop)
            answer["check"] = y[0].permute(1, 2, 0).reshape(-1).tolist()
        with torch.no_grad():
            for name, model in models.items():
                enc, dec = [], []
                for _ in range(request["repeat"]):
                    start = time.perf_counter()
                    x = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255)
                    out = model.compress(x)
                    enc.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    x_hat = model.decompress(out["strings"], out["shape"])["x_hat"]
                    pixels = x_hat.clamp(0, 1).mul(255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
                    dec.append(time.perf_counter() - start)
                nbytes = sum(len(s[0]) for s in out["strings"])
                answer[name] = {
                    "encode": min(enc),
                    "decode": min(dec),
                    "bytes": nbytes,
                    "shape": list(pixels.shape),
                }
        print(json.dumps(answer), flush=True)


def export_weights(directory: Path) -> None:
    """aekit's shipped g_a / g_s weights as .npz (no pickles) for the peer, named as CompressAI names them."""
    from aekit.codec import PhotoCodec, pretrained

    for q in QUALITIES:
        codec = PhotoCodec.load(pretrained.model_dir(q))
        state = {
            k: v.detach().cpu().numpy()
            for k, v in codec.state_dict().items()
            if k.startswith(("g_a.", "g_s.")) and not k.endswith(("pedestal", "bound"))
        }
        np.savez(directory / f"q{q}.npz", **state)


# ---------------------------------------------------------------- aekit's side and the comparison
def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        peer(sys.argv[2])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=24, help="the first N Kodak images (24)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per image, the best kept (2)")
    parser.add_argument("--peer-python", default=PEER_PYTHON)
    parser.add_argument("--out", default=str(RESULTS / "compressai_speed.json"))
    args = parser.parse_args()

    import torch

    from aekit.codec import PhotoCodec, PhotoDeviceDecoder, PhotoDeviceEncoder, pixels, pretrained

    torch.set_num_threads(1)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    images = sorted(KODAK.glob("*.png"))[: args.images]
    aekit = {
        q: (
            PhotoDeviceEncoder(pretrained.model_dir(q), threads=1),
            PhotoCodec.load(pretrained.model_dir(q)).eval(),
            PhotoDeviceDecoder(pretrained.model_dir(q), threads=1),
        )
        for q in QUALITIES
    }
    codec_q1 = aekit[QUALITIES[0]][1]
    check = float("nan")
    totals: dict[str, dict[str, float]] = {}

    def add(name: str, key: str, value: float) -> None:
        totals.setdefault(name, {}).setdefault(key, 0.0)
        totals[name][key] += value

    with tempfile.TemporaryDirectory() as tmp:
        export_weights(Path(tmp))
        child = subprocess.Popen(
            [args.peer_python, __file__, "--peer", tmp],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        ready = json.loads(child.stdout.readline())
        print(f"peer ready: torch {ready['ready']}", flush=True)
        for path in images:
            image = pixels.read_image(path)
            for q, (encoder, codec, onnx_decoder) in aekit.items():
                enc, dec, dec_onnx = [], [], []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    data = encoder.compress(image)
                    enc.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    codec.decompress(data)
                    dec.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    onnx_decoder.decompress(data)
                    dec_onnx.append(time.perf_counter() - start)
                name = f"aekit q{q}"
                add(name, "encode", min(enc))
                add(name, "decode", min(dec))
                add(name, "decode_onnx", min(dec_onnx))
                add(name, "bytes", len(data))
            request = {"image": str(path), "repeat": args.repeat, "check": path == images[0]}
            child.stdin.write(json.dumps(request) + "\n")
            child.stdin.flush()
            answer = json.loads(child.stdout.readline())
            if "check" in answer:
                y = codec_q1.latents(image[:64, :64], tile=0).reshape(-1)
                check = float(np.abs(np.asarray(answer.pop("check")) - y).max())
                print(f"same architecture: max |g_a difference| {check:.2e}", flush=True)
            for name, t in answer.items():
                for key in ("encode", "decode", "bytes"):
                    add(f"compressai {name}", key, t[key])
            print(f"{path.name} done", flush=True)
        child.stdin.close()
        child.wait()

    ratios = {}
    for q in QUALITIES:
        mine = totals[f"aekit q{q}"]
        for peer_name in (
            f"same architecture q{q} (N=64, M=96)",
            f"bmshj2018-factorized q{q} (random)",
        ):
            theirs = totals[f"compressai {peer_name}"]
            ratios[f"aekit q{q} / {peer_name}"] = {
                "device encode / compress": mine["encode"] / theirs["encode"],
                "cloud decode (torch) / decompress": mine["decode"] / theirs["decode"],
                "ONNX decode / decompress": mine["decode_onnx"] / theirs["decode"],
            }
    result = {
        "images": len(images),
        "repeat": args.repeat,
        "threads": 1,
        "same_architecture_max_g_a_difference": check,
        "seconds_summed_over_images": totals,
        "ratios": ratios,
        "goal": "aekit / CompressAI <= 0.7 for the same architecture",
    }
    print(json.dumps(result, indent=1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
