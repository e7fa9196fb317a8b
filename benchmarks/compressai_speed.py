"""Speed against CompressAI on Kodak: same images, same run, same threads (issue 19's goal; issue 21's reference).

CompressAI 1.2.8 does not import beside aekit's torch 2.13, so it runs in its own virtualenv (not
``--system-site-packages``), with the torch it imports with::

    python3 -m venv /work/peer-venv
    /work/peer-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 && /work/peer-venv/bin/pip install compressai==1.2.8

This script runs in aekit's interpreter and starts the peer interpreter as a child that answers timing
requests on stdin / stdout. The two **alternate measurement by measurement** (aekit, CompressAI,
aekit, ... for each image, rate point and round), so the load of a shared machine falls on both alike,
and each pair gives one ratio aekit ÷ CompressAI; the report gives **the median of those ratios** (and,
beside it, the ratio of the summed best-of-rounds seconds). Both use one thread (``OMP_NUM_THREADS=1``,
``torch.set_num_threads(1)``, onnxruntime ``threads=1``).

- **factorized** (issue 19), for each shipped rate point against **the same architecture**,
  CompressAI's ``FactorizedPrior(N=64, M=96)`` with the rate point's g_a / g_s weights copied in (its
  g_a gives aekit's latents exactly: checked on a crop) and its entropy bottleneck at random
  initialisation, ``update()``d (nothing can be downloaded here):
  aekit **device encode** ``PhotoDeviceEncoder.compress(pixels)`` (onnxruntime g_a, quantise, range
  code, frame) against ``compress(x)`` from the same uint8 pixels; **cloud decode**
  ``PhotoCodec.decompress(stream)`` (range decode, torch g_s, uint8: what ``POST /v1/decode`` runs)
  and the **ONNX decode** ``PhotoDeviceDecoder.decompress`` against ``decompress(strings, shape)`` to
  uint8 pixels.
- **hyperprior** (issue 21), for each shipped hyperprior point against CompressAI's
  ``ScaleHyperprior(N=64, M=96)`` (bmshj2018-hyperprior's architecture at our N, M) with the point's
  g_a, h_a and g_s weights copied in; its h_s (a float network with another head than aekit's integer
  h_s) and its entropy models at random initialisation (random densities code other numbers of bytes
  than trained ones: the entropy parts of the two are not comparable, g_s is): the service's decode
  ``HyperpriorCodec.decompress(stream)`` (torch) and the ONNX decode ``HyperDeviceDecoder`` against
  ``decompress``, with the split of both (aekit: entropy decoding of ẑ and ŷ, the integer h_s,
  g_s; CompressAI: h_s, g_s, the rest), and the device encode against ``compress``.
- ``--train``: **training throughput** (issue 19), images per second of aekit's training loop
  (:func:`aekit.codec.photo_training.train_photo_codec`, PhotoCodec(N=64, M=96), Adam, gradient clip 1,
  from the seconds it logs per step, the first step left out) against CompressAI's
  ``examples/train.py`` step for ``FactorizedPrior(N=64, M=96)`` (``RateDistortionLoss``, Adam on the
  parameters, gradient clip 1, and the auxiliary Adam step on the quantiles), on the same random
  ``--crop``² crops of the training photos, the same ``--batch``, one thread.
- ``--zoo``: also the zoo's ``bmshj2018-factorized`` / ``bmshj2018-hyperprior`` q1–q3 (N = 128,
  M = 192, random weights), CompressAI's own timings only, for reference.

Results: ``results/compressai_speed.json``. The goal is aekit / CompressAI ≤ 0.7.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/compressai_speed.py --images 6 --repeat 3 --train
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "photos"
KODAK = DATA / "kodak"
TRAIN = DATA / "train"  # the training photos (Kodak is for evaluation only)
RESULTS = HERE / "results"
PEER_PYTHON = "/work/peer-venv/bin/python"
QUALITIES = (1, 2, 3)
N, M = 64, 96


def _timed(f: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = f(*args)
    return time.perf_counter() - start, out


def _crops(images: list[np.ndarray], batch: int, crop: int, step: int) -> np.ndarray:
    """``batch`` random crop×crop windows (uint8 (B, H, W, C)) of ``images``, drawn from a generator seeded by ``step``."""
    rng = np.random.default_rng(step)
    out = []
    for _ in range(batch):
        im = images[rng.integers(len(images))]
        top, left = rng.integers(im.shape[0] - crop + 1), rng.integers(im.shape[1] - crop + 1)
        out.append(im[top : top + crop, left : left + crop])
    return np.stack(out)


# ---------------------------------------------------------------- the peer (runs in CompressAI's venv)
def peer(weights_dir: str) -> None:
    """Answer one JSON line per request with CompressAI's timings."""
    import warnings

    warnings.simplefilter("ignore")
    import torch
    from compressai.models import FactorizedPrior, ScaleHyperprior
    from compressai.zoo import bmshj2018_factorized, bmshj2018_hyperprior
    from PIL import Image

    torch.set_num_threads(1)

    def same(cls: Any, name: str, parts: tuple[str, ...]) -> Any:
        model = cls(N, M)
        with np.load(Path(weights_dir) / f"{name}.npz", allow_pickle=False) as f:
            state = {k: torch.from_numpy(f[k]) for k in f.files}
        result = model.load_state_dict(state, strict=False)
        if result.unexpected_keys or any(
            k.startswith(parts) and not k.endswith(("pedestal", "bound")) for k in result.missing_keys
        ):
            raise SystemExit(f"aekit {name}'s transforms do not fit {cls.__name__}({N}, {M}): {result}")
        model.eval().update(force=True)
        return model

    factorized = {q: same(FactorizedPrior, f"q{q}", ("g_a.", "g_s.")) for q in QUALITIES}
    hyper = {q: same(ScaleHyperprior, f"hyperprior-q{q}", ("g_a.", "g_s.", "h_a.")) for q in QUALITIES}
    zoo: dict[tuple[str, int], Any] = {}
    train_photos: list[np.ndarray] = []
    print(json.dumps({"ready": torch.__version__}), flush=True)

    def load(path: str) -> torch.Tensor:
        image = np.asarray(Image.open(path).convert("RGB"))
        return torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255)

    def to_pixels(x_hat: torch.Tensor) -> np.ndarray:
        return x_hat.clamp(0, 1).mul(255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()

    for line in sys.stdin:
        request = json.loads(line)
        task, answer = request["task"], {}
        if task == "check":  # g_a of the same-architecture q1 on a 64×64 crop, to compare with aekit's
            with torch.no_grad():
                y = factorized[QUALITIES[0]].g_a(load(request["image"])[..., :64, :64])
            answer["check"] = y[0].permute(1, 2, 0).reshape(-1).tolist()
        elif task in ("factorized", "hyperprior", "zoo"):
            if task == "zoo":
                name, q = request["model"], request["q"]
                if (name, q) not in zoo:
                    build = bmshj2018_factorized if name == "factorized" else bmshj2018_hyperprior
                    zoo[name, q] = build(q, pretrained=False).eval()
                    zoo[name, q].update(force=True)
                model = zoo[name, q]
            else:
                model = (factorized if task == "factorized" else hyper)[request["q"]]
            with torch.no_grad():
                start = time.perf_counter()
                out = model.compress(load(request["image"]))
                answer["encode"] = time.perf_counter() - start
                start = time.perf_counter()
                to_pixels(model.decompress(out["strings"], out["shape"])["x_hat"])
                answer["decode"] = time.perf_counter() - start
                answer["bytes"] = sum(len(s[0]) for s in out["strings"])
                if task == "hyperprior":  # the split: ScaleHyperprior.decompress's steps, timed one by one
                    answer.update(_hyper_split(model, out))
        elif task == "train":
            if not train_photos:
                train_photos.extend(np.asarray(Image.open(p).convert("RGB")) for p in request["photos"])
            answer["seconds"] = _train_compressai(
                FactorizedPrior, train_photos, request["batch"], request["crop"], request["steps"]
            )
        print(json.dumps(answer), flush=True)


def _hyper_split(model, out: dict) -> dict[str, float]:
    """Seconds of each step of CompressAI's ``ScaleHyperprior.decompress`` (its code, step by step)."""
    times = {}
    start = time.perf_counter()
    z_hat = model.entropy_bottleneck.decompress(out["strings"][1], out["shape"])
    times["z entropy decoding"], start = time.perf_counter() - start, time.perf_counter()
    scales_hat = model.h_s(z_hat)
    times["h_s"], start = time.perf_counter() - start, time.perf_counter()
    indexes = model.gaussian_conditional.build_indexes(scales_hat)
    y_hat = model.gaussian_conditional.decompress(out["strings"][0], indexes, z_hat.dtype)
    times["y entropy decoding"], start = time.perf_counter() - start, time.perf_counter()
    model.g_s(y_hat).clamp_(0, 1)
    times["g_s"] = time.perf_counter() - start
    return times


def _train_compressai(cls: type, photos: list, batch: int, crop: int, steps: int) -> float:
    """Seconds per step (the first left out) of CompressAI's examples/train.py ``train_one_epoch`` step."""
    import torch
    from compressai.losses import RateDistortionLoss

    torch.manual_seed(0)
    net = cls(N, M).train()
    params = {n for n, p in net.named_parameters() if not n.endswith(".quantiles") and p.requires_grad}
    aux = {n for n, p in net.named_parameters() if n.endswith(".quantiles") and p.requires_grad}
    named = dict(net.named_parameters())
    optimizer = torch.optim.Adam((named[n] for n in sorted(params)), lr=1e-4)
    aux_optimizer = torch.optim.Adam((named[n] for n in sorted(aux)), lr=1e-3)
    criterion = RateDistortionLoss(lmbda=0.0018)
    times = []
    for step in range(steps):
        start = time.perf_counter()
        d = torch.from_numpy(_crops(photos, batch, crop, step)).permute(0, 3, 1, 2).float().div_(255)
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        out_criterion = criterion(net(d), d)
        out_criterion["loss"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        aux_loss = net.aux_loss()
        aux_loss.backward()
        aux_optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.mean(times[1:]))


# ---------------------------------------------------------------- aekit's side
def export_weights(directory: Path) -> None:
    """aekit's shipped g_a / g_s (/ h_a) weights as .npz (no pickles) for the peer, named as CompressAI names them."""
    from aekit.codec import pretrained
    from aekit.codec.hyperprior import HyperpriorCodec
    from aekit.codec.photo import PhotoCodec

    for family, cls, prefix, parts in (
        ("factorized", PhotoCodec, "", ("g_a.", "g_s.")),
        ("hyperprior", HyperpriorCodec, "hyperprior-", ("g_a.", "g_s.", "h_a.")),
    ):
        for q in QUALITIES:
            codec = cls.load(pretrained.model_dir(q, family))
            if (codec.N, codec.M) != (N, M):
                raise SystemExit(
                    f"{family} q{q} has N={codec.N}, M={codec.M}; this benchmark compares {N}, {M}"
                )
            state = {
                k: v.detach().cpu().numpy()
                for k, v in codec.state_dict().items()
                if k.startswith(parts) and not k.endswith(("pedestal", "bound"))
            }
            np.savez(directory / f"{prefix}q{q}.npz", **state)


def _train_aekit(photos: list[np.ndarray], batch: int, crop: int, steps: int) -> float:
    """Seconds per step (the first left out) of aekit's training loop, from the seconds it logs per step."""
    from aekit.codec.photo_training import PhotoSet, train_photo_codec

    codec = train_photo_codec(
        {"N": N, "M": M}, PhotoSet(photos), lmbda=0.0018, steps=steps, batch_size=batch, crop=crop,
        lr=1e-4, device="cpu", log_every=1, log=None,
    )  # fmt: skip
    assert codec.history is not None
    seconds = codec.history["seconds"]
    return (seconds[-1] - seconds[0]) / (len(seconds) - 1)


RATIOS = {  # family -> (name, aekit's part, CompressAI's part)
    "factorized": (
        ("device encode / compress", "encode", "encode"),
        ("cloud decode (torch) / decompress", "decode", "decode"),
        ("ONNX decode / decompress", "ONNX decode", "decode"),
    ),
    "hyperprior": (
        ("device encode / compress", "encode", "encode"),
        ("service decode (torch) / decompress", "decode", "decode"),
        ("ONNX decode / decompress", "ONNX decode", "decode"),
        ("g_s (torch) / g_s", "g_s", "g_s"),
    ),
}


def _measure(encoder, codec, onnx, image: np.ndarray) -> tuple[dict, bytes]:
    """Seconds of aekit's device encode, cloud (torch) decode and ONNX decode of one photo; its bytes."""
    t_enc, data = _timed(encoder.compress, image)
    t_dec, _ = _timed(codec.decompress, data)
    t_onnx, _ = _timed(onnx.decompress, data)
    return {"encode": t_enc, "decode": t_dec, "ONNX decode": t_onnx, "bytes": len(data)}, data


def _measure_factorized(encoder, codec, onnx, image: np.ndarray) -> dict:
    return _measure(encoder, codec, onnx, image)[0]


def _measure_hyperprior(encoder, codec, onnx, image: np.ndarray) -> dict:
    """As :func:`_measure`, and the split of the service's decode: entropy decoding, h_s, g_s."""
    out, data = _measure(encoder, codec, onnx, image)
    t_sym, t_hs, (y_sym, height, width) = _hyper_symbols_split(codec, data)
    t_gs, _ = _timed(codec.dequantize, y_sym, height, width)
    return {**out, "entropy decoding": t_sym - t_hs, "h_s": t_hs, "g_s": t_gs}


class _TimedNet:
    """An integer h_s that adds up the seconds of its calls (everything else passes through)."""

    def __init__(self, net: Any):
        self.net, self.seconds = net, 0.0

    def __getattr__(self, name: str) -> object:
        return getattr(self.net, name)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        seconds, out = _timed(self.net, z)
        self.seconds += seconds
        return out


def _hyper_symbols_split(codec, data: bytes) -> tuple[float, float, tuple]:
    """``(seconds of decode_hyper_symbols, of the h_s within it, (ŷ, H, W))``: the service's symbol decoding, one pass."""
    from aekit.codec.hyper_message import HyperTables, decode_hyper_symbols

    tables = codec.hyper_tables
    net = _TimedNet(tables.net)
    timed_tables = HyperTables(tables.z, tables.y, net)  # type: ignore[arg-type]
    seconds, (_, _, y_sym, height, width) = _timed(
        decode_hyper_symbols, data, timed_tables, codec.fingerprint, codec.channels
    )
    return seconds, net.seconds, (y_sym, height, width)


def _summary(pairs: dict[str, list[tuple[float, float]]]) -> dict[str, dict[str, float]]:
    """Per measurement: the median of the per-pair ratios, and the summed seconds of both."""
    return {
        name: {
            "median_ratio": statistics.median(a / b for a, b in values),
            "pairs": len(values),
            "aekit_seconds": sum(a for a, _ in values),
            "compressai_seconds": sum(b for _, b in values),
        }
        for name, values in pairs.items()
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        peer(sys.argv[2])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=6, help="the first N Kodak images (6)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the images (3)")
    parser.add_argument("--parts", default="factorized,hyperprior", help="factorized,hyperprior (both)")
    parser.add_argument("--train", action="store_true", help="also the training throughput")
    parser.add_argument("--train-steps", type=int, default=4, help="steps per training measurement (4)")
    parser.add_argument("--batch", type=int, default=8, help="training batch (8, aekit's default)")
    parser.add_argument("--crop", type=int, default=256, help="training crop side (256)")
    parser.add_argument("--zoo", action="store_true", help="also the zoo's N=128 models (CompressAI only)")
    parser.add_argument("--peer-python", default=PEER_PYTHON)
    parser.add_argument("--out", default=str(RESULTS / "compressai_speed.json"))
    args = parser.parse_args()
    parts = set(args.parts.split(",")) - {""}

    import torch

    from aekit.codec import pixels, pretrained
    from aekit.codec.device_hyper import HyperDeviceDecoder, HyperDeviceEncoder
    from aekit.codec.device_photo import PhotoDeviceDecoder, PhotoDeviceEncoder
    from aekit.codec.hyperprior import HyperpriorCodec
    from aekit.codec.photo import PhotoCodec

    torch.set_num_threads(1)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    images = sorted(KODAK.glob("*.png"))[: args.images]
    factorized: dict[int, tuple[Any, Any, Any]] = {
        q: (
            PhotoDeviceEncoder(pretrained.model_dir(q), threads=1),
            PhotoCodec.load(pretrained.model_dir(q)).eval(),
            PhotoDeviceDecoder(pretrained.model_dir(q), threads=1),
        )
        for q in QUALITIES
    }
    hyper: dict[int, tuple[Any, Any, Any]] = {
        q: (
            HyperDeviceEncoder(pretrained.model_dir(q, "hyperprior"), threads=1),
            HyperpriorCodec.load(pretrained.model_dir(q, "hyperprior")).eval(),
            HyperDeviceDecoder(pretrained.model_dir(q, "hyperprior"), threads=1),
        )
        for q in QUALITIES
    }
    pairs: dict[str, list[tuple[float, float]]] = {}  # measurement -> (aekit, CompressAI) seconds per pair
    seconds: dict[str, dict[str, float]] = {}  # what -> image -> the best of the rounds
    split: dict[str, list[float]] = {}  # hyperprior decode parts -> seconds per run
    bytes_: dict[str, int] = {}

    def pair(name: str, mine: float, theirs: float) -> None:
        pairs.setdefault(name, []).append((mine, theirs))

    def record(family: str, q: int, image: str, mine: dict, theirs: dict, first: bool) -> None:
        """Pairs for the ratios, each part's best seconds per image, the bytes of the first round."""
        for name, mine_key, theirs_key in RATIOS.get(family, ()):
            pair(f"{family} q{q} {name}", mine[mine_key], theirs[theirs_key])
        for who, values in (("aekit", mine), ("compressai", theirs)):
            for key, value in values.items():
                if key == "bytes":
                    bytes_[f"{family} q{q} {who}"] = bytes_.get(f"{family} q{q} {who}", 0) + value * first
                    continue
                cell = seconds.setdefault(f"{family} q{q} {who} {key}", {})
                cell[image] = min(cell.get(image, float("inf")), value)
                if family == "hyperprior":
                    split.setdefault(f"{family} q{q} {who} {key}", []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        export_weights(Path(tmp))
        child = subprocess.Popen(
            [args.peer_python, __file__, "--peer", tmp],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        stdin, stdout = child.stdin, child.stdout
        assert stdin is not None and stdout is not None

        def ask(**request: object) -> dict:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            return json.loads(stdout.readline())

        ready = json.loads(stdout.readline())
        print(f"peer ready: torch {ready['ready']}", flush=True)
        first = pixels.read_image(images[0])
        y = factorized[QUALITIES[0]][1].latents(first[:64, :64], tile=0).reshape(-1)
        check = float(np.abs(np.asarray(ask(task="check", image=str(images[0]))["check"]) - y).max())
        print(f"same architecture: max |g_a difference| {check:.2e}", flush=True)
        for round_ in range(args.repeat):
            for path in images:
                image = pixels.read_image(path)
                for q in QUALITIES:
                    for family, halves, measure in (
                        ("factorized", factorized, _measure_factorized),
                        ("hyperprior", hyper, _measure_hyperprior),
                    ):
                        if family in parts:
                            mine = measure(*halves[q], image)
                            theirs = ask(task=family, image=str(path), q=q)
                            record(family, q, path.name, mine, theirs, round_ == 0)
                if args.zoo and round_ == 0:
                    for family in ("factorized", "hyperprior"):
                        for q in QUALITIES:
                            theirs = ask(task="zoo", model=family, q=q, image=str(path))
                            record(f"zoo bmshj2018-{family} (random)", q, path.name, {}, theirs, True)
                print(f"round {round_ + 1}: {path.name} done", flush=True)
        train: dict[str, object] = {}
        if args.train:
            from PIL import Image

            photo_paths = sorted(TRAIN.glob("*.jpg"))[:16]
            photos = [np.asarray(Image.open(p).convert("RGB")) for p in photo_paths]
            for round_ in range(args.repeat):
                my_step = _train_aekit(photos, args.batch, args.crop, args.train_steps)
                their_step = ask(
                    task="train", photos=[str(p) for p in photo_paths], batch=args.batch,
                    crop=args.crop, steps=args.train_steps,
                )["seconds"]  # fmt: skip
                pair("training s/step (factorized N=64, M=96)", my_step, their_step)
                print(f"train round {round_ + 1}: aekit {args.batch / my_step:.2f} images/s, "
                      f"CompressAI {args.batch / their_step:.2f}", flush=True)  # fmt: skip
            values = pairs["training s/step (factorized N=64, M=96)"]
            train = {
                "batch": args.batch, "crop": args.crop, "steps_per_measurement": args.train_steps,
                "photos": f"the first {len(photos)} of {TRAIN.name}/ (random crops, seeded per step)",
                "aekit_images_per_s_median": statistics.median(args.batch / a for a, _ in values),
                "compressai_images_per_s_median": statistics.median(args.batch / b for _, b in values),
                "median_ratio_of_throughput_aekit_over_compressai": statistics.median(b / a for a, b in values),
            }  # fmt: skip
        stdin.close()
        child.wait()

    result = {
        "images": [p.name for p in images],
        "rounds": args.repeat,
        "threads": 1,
        "same_architecture_max_g_a_difference": check,
        "ratios_aekit_over_compressai": _summary(pairs),
        "seconds_best_of_rounds_summed_over_images": {k: sum(v.values()) for k, v in seconds.items()},
        "hyperprior_decode_split_median_seconds_per_image": {
            k: statistics.median(v) for k, v in split.items()
        },
        "bytes_summed_over_images": bytes_,
        "training": train,
        "goal": "aekit / CompressAI <= 0.7 (median of the per-pair ratios; training: throughput ratio >= 1/0.7)",
    }
    print(json.dumps(result, indent=1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
