"""Train the shipped photo codecs: several λ interleaved, time-boxed, resumable, one photo decode.

``--model factorized`` (default) trains :class:`aekit.codec.PhotoCodec`, ``--model hyperprior``
:class:`aekit.codec.HyperpriorCodec`; ``--warm-start DIR`` starts a new hyperprior run's g_a / g_s
from the factorized run ``DIR/<name>`` of the same rate point (h_a, h_s and z's model start afresh).

Each λ has its run directory (``--out/<name>``: weights, Adam's moments, RNG states, history);
the λ take turns of ``--chunk-minutes`` until ``--minutes`` have passed or every run has
``--steps`` steps. Run it again with the same ``--out`` and each run continues where it stopped.

    OMP_NUM_THREADS=1 nohup python benchmarks/train_photo_codec.py \
        --data ../shared/data/photos/train --out benchmarks/checkpoints/photo --minutes 55 \
        > benchmarks/checkpoints/photo/train.log 2>&1 &
    OMP_NUM_THREADS=1 nohup python benchmarks/train_photo_codec.py --model hyperprior \
        --warm-start benchmarks/checkpoints/photo --out benchmarks/checkpoints/hyperprior --minutes 75 \
        > benchmarks/checkpoints/hyperprior/train.log 2>&1 &
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from aekit.codec.hyperprior import HyperpriorCodec
from aekit.codec.photo import PhotoCodec
from aekit.codec.photo_training import PhotoSet, train_photo_codec
from aekit.io import STATE_JSON

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "photos" / "train"
RATE_POINTS = {"q1": 0.0018, "q2": 0.0035, "q3": 0.0067}  # CompressAI's first three qualities
CODECS = {"factorized": PhotoCodec, "hyperprior": HyperpriorCodec}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--model", choices=list(CODECS), default="factorized")
    p.add_argument("--out", default=None, help="default: checkpoints/photo, or checkpoints/hyperprior")
    p.add_argument("--warm-start", default=None, metavar="DIR", help="hyperprior: g_a, g_s from DIR/<name>")
    p.add_argument("--points", nargs="+", default=list(RATE_POINTS), help="names among q1 q2 q3")
    p.add_argument("--N", type=int, default=64)
    p.add_argument("--M", type=int, default=96)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--minutes", type=float, default=55.0, help="wall-clock budget of this call")
    p.add_argument("--chunk-minutes", type=float, default=5.0, help="one turn of one λ")
    p.add_argument("--limit", type=int, default=None, help="use only the first photos (smoke runs)")
    p.add_argument("--device", default=None)
    p.add_argument(
        "--ship",
        action="store_true",
        help="train nothing: write each run's codec (with tables and ONNX halves) as package data",
    )
    args = p.parse_args(argv)
    codec_class = CODECS[args.model]
    if args.out is None:
        args.out = str(HERE / "checkpoints" / ("photo" if args.model == "factorized" else "hyperprior"))
    if args.ship:
        ship(Path(args.out), args.points, args.model)
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.monotonic()
    photos = PhotoSet.from_directory(args.data, limit=args.limit)
    print(f"decoded {len(photos)} photos once in {time.monotonic() - t0:.1f} s", flush=True)
    deadline = t0 + 60 * args.minutes
    done: set[str] = set()
    while time.monotonic() < deadline and len(done) < len(args.points):
        for name in args.points:
            left = deadline - time.monotonic()
            if name in done or left <= 1:
                continue
            print(
                f"== {name} (λ = {RATE_POINTS[name]}) for {min(left, 60 * args.chunk_minutes) / 60:.1f} min",
                flush=True,
            )
            run = Path(args.out) / name
            model: dict | HyperpriorCodec = {"N": args.N, "M": args.M}
            if args.warm_start and not (run / STATE_JSON).is_file():
                model = warm_start(Path(args.warm_start) / name, args.N, args.M)
            codec = train_photo_codec(
                model,
                photos,
                lmbda=RATE_POINTS[name],
                steps=args.steps,
                batch_size=args.batch_size,
                crop=args.crop,
                lr=args.lr,
                checkpoint_dir=run,
                checkpoint_every=60 * args.chunk_minutes,
                time_limit=min(left, 60 * args.chunk_minutes),
                device=args.device,
                log=lambda line: print(line, flush=True),
                codec_class=codec_class,
            )
            if codec.history["step"] and codec.history["step"][-1] >= args.steps:
                done.add(name)
    print(f"finished after {(time.monotonic() - t0) / 60:.1f} min", flush=True)


def warm_start(run: Path, n: int, m: int) -> HyperpriorCodec:
    """A new hyperprior codec whose g_a and g_s are those of the factorized codec in ``run``."""
    factorized = PhotoCodec.load(run)
    codec = HyperpriorCodec(factorized.channels, n, m)
    codec.g_a.load_state_dict(factorized.g_a.state_dict())
    codec.g_s.load_state_dict(factorized.g_s.state_dict())
    print(f"warm start: g_a, g_s from {run}", flush=True)
    return codec


def ship(out: Path, points: list[str], model: str = "factorized") -> None:
    """Each run of ``out`` as a shipped codec under aekit/pretrained/codec/<name> (hyperprior: hyperprior-<name>),
    listed in models.json beside the other family's entries, which stay as they are."""
    import json
    import shutil

    from aekit.codec import pretrained
    from aekit.io import read_training_state

    old = {e["name"]: e for e in pretrained.models()}
    entries = [e for e in old.values() if pretrained.family(e) != model]
    for point in sorted(points):
        quality = int(point.lstrip("q"))
        run = out / point
        codec = CODECS[model].load(run).update().eval()
        state = read_training_state(run)
        name = point if model == "factorized" else f"{model}-{point}"
        dest = pretrained.ROOT / name
        shutil.rmtree(dest, ignore_errors=True)
        codec.save(dest, export=True)
        entry = {
            **old.get(name, {}),
            "name": name,
            **({} if model == "factorized" else {"model": model}),
            "quality": quality,
            "lmbda": codec.lmbda,
            "model_id": codec.model_id.hex(),
            "N": codec.N,
            "M": codec.M,
            "parameters": codec.parameter_count(),
            "training": {
                "steps": state.epoch,
                "minutes": round(float(state.settings.get("seconds", 0)) / 60, 1),
                "data": "BSDS500 train/test photos (../shared/data/photos/train, 432 images)",
            },
        }
        if entry.get("model_id") != old.get(name, {}).get("model_id"):
            entry.pop("kodak", None)  # measured on other weights
        entries.append(entry)
        print(f"{name}: {dest} (model id {codec.model_id.hex()}, {state.epoch} steps)")
    entries.sort(key=lambda e: (pretrained.FAMILIES.index(pretrained.family(e)), e["quality"]))
    pretrained.INDEX.write_text(json.dumps({"models": entries}, indent=1) + "\n")


if __name__ == "__main__":
    main()
