"""Rate-distortion of the phone-to-cloud codec on the MNIST test set, from real bitstream bytes.

Compares, in bytes per image against mean per-image PSNR:

- aekit's codec at several λ: one-image messages (header included) and 1000-image messages
  (amortised), both real ``Codec.compress`` bitstreams;
- PCA codes (k components, uniform quantiser step q) coded with the same integer-table range
  coder and the same container;
- JPEG and WebP at several qualities and lossless PNG, with Pillow (one file per image).

Training budget: one model at the middle λ for ``--epochs``, then each λ fine-tuned from it for
``--finetune-epochs`` at a lower learning rate (one torch thread; the box is shared).
Writes ``benchmarks/results/codec_rd.json`` and ``codec_rd.png``; trained codecs are kept in
``--runs`` and reused by a later run with the same settings.

    python benchmarks/codec_rd.py --data-root ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import torch  # noqa: E402

import aekit  # noqa: E402
from aekit import metrics  # noqa: E402
from aekit.codec import Codec, bitstream, train_codec  # noqa: E402
from aekit.codec.coder import Tables  # noqa: E402
from aekit.codec.entropy import _quantise  # noqa: E402
from aekit.data import load_mnist  # noqa: E402
from aekit.io import atomic_write_text  # noqa: E402

GOAL = {
    "psnr_db": 23.3,
    "amortised_bytes": 16.0,
    "one_image_bytes": 24.0,
    "pca_gap_db": 4.0,
    "webp_q0": {"bytes": 99, "psnr_db": 23.3},
}
CHUNK = 1000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    p.add_argument("--hidden", default="512,256,32", help="encoder sizes, last is the latent")
    p.add_argument("--lambdas", default="0.015,0.03,0.06,0.12", help="λ values (the middle one trains first)")
    p.add_argument(
        "--base-lmbda", type=float, default=None, help="λ of the first model (default: the middle λ)"
    )
    p.add_argument("--epochs", type=int, default=16, help="epochs of the first model")
    p.add_argument("--finetune-epochs", type=int, default=3, help="epochs of each λ from the first model")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--finetune-lr", type=float, default=2e-4)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--quantizer", default="noise", choices=["noise", "ste"])
    p.add_argument(
        "--finetune-quantizer",
        default=None,
        choices=["noise", "ste"],
        help="quantizer of the per-λ fine-tuning (default: --quantizer)",
    )
    p.add_argument("--long-lmbda", default="0.003", help="λ values of the longer runs (comma-separated)")
    p.add_argument("--long-epochs", type=int, default=0, help="epochs of each longer run (0: none)")
    p.add_argument("--long-seed", type=int, default=2, help="seed of the longer runs (batch order, noise)")
    p.add_argument(
        "--long-weight-decay",
        type=float,
        default=0.0,
        help="decoupled weight decay of the longer runs (AdamW; 0: Adam, no decay)",
    )
    p.add_argument(
        "--long-quantizer",
        default="noise",
        choices=["noise", "ste"],
        help="what the decoder sees in the longer runs: y + u (noise) or round(y) (ste; the rate "
        "still uses the noise proxy: 'mixed' quantisation, Minnen & Singh 2020)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--train-only",
        action="store_true",
        help="train (or reuse) the models in --runs and stop before measuring (e.g. on a GPU machine)",
    )
    p.add_argument("--n-train", type=int, default=60000)
    p.add_argument("--n-test", type=int, default=10000)
    p.add_argument("--runs", default=str(HERE / "runs" / "codec_rd"))
    p.add_argument("--out", default=str(HERE / "results" / "codec_rd.json"))
    return p.parse_args(argv)


# ---------------------------------------------------------------------- training
def trained_on(threads: int) -> str:
    """Where train_codec runs (its default device), for the record beside each model's seconds."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU, {threads} thread(s)"


def train_all(args, X_train) -> dict[float, Codec]:
    lambdas = [float(v) for v in args.lambdas.split(",") if v]
    base_lmbda = args.base_lmbda if args.base_lmbda is not None else lambdas[len(lambdas) // 2]
    hidden = [int(v) for v in args.hidden.split(",")]
    runs = Path(args.runs)
    base_settings = {
        "hidden": hidden,
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "quantizer": args.quantizer,
        "n_train": len(X_train),
        "base_lmbda": base_lmbda,
    }
    settings = {
        **base_settings,
        "finetune_epochs": args.finetune_epochs,
        "finetune_lr": args.finetune_lr,
        "finetune_quantizer": args.finetune_quantizer or args.quantizer,
    }
    codecs, seconds, devices = {}, {}, {}

    def cached(name, want):
        meta = runs / name / "bench.json"
        stored = json.loads(meta.read_text()).get("settings", {}) if meta.is_file() else {}
        stored.setdefault("finetune_quantizer", stored.get("quantizer"))
        if "long_lmbda" in stored:
            stored.setdefault("long_quantizer", "noise")
            stored.setdefault("long_weight_decay", 0.0)
            stored.setdefault("long_seed", 2)
        if stored and all(stored.get(k) == v for k, v in want.items()):
            logging.info("reusing %s", runs / name)
            record = json.loads(meta.read_text())
            devices[name] = record.get("trained_on", "CPU")
            return Codec.load(runs / name), record["seconds"]
        return None, None

    def keep(codec, name, secs, want):
        codec.save(runs / name)
        devices[name] = trained_on(args.threads)
        atomic_write_text(
            runs / name / "bench.json",
            json.dumps({"settings": want, "seconds": secs, "trained_on": devices[name]}),
        )

    base, base_secs = cached("base", base_settings)
    if base is None:
        aekit.seed_everything(0)
        ae = aekit.Autoencoder(784, hidden, activation="relu", code_activation="linear", loss="mse")
        start = time.perf_counter()
        base = train_codec(
            ae,
            X_train,
            lmbda=base_lmbda,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            quantizer=args.quantizer,
            seed=0,
            progress=False,
        )
        base_secs = time.perf_counter() - start
        keep(base, "base", base_secs, base_settings)
    seconds["base"] = base_secs
    for lmbda in lambdas:
        name = f"lmbda_{lmbda:g}"
        codec, secs = cached(name, settings)
        if codec is None:
            codec = copy.deepcopy(base)
            start = time.perf_counter()
            train_codec(
                codec,
                X_train,
                lmbda=lmbda,
                epochs=args.finetune_epochs,
                batch_size=args.batch_size,
                lr=args.finetune_lr,
                quantizer=settings["finetune_quantizer"],
                seed=1,
                progress=False,
            )
            secs = time.perf_counter() - start
            keep(codec, name, secs, settings)
        codecs[lmbda] = codec
        seconds[name] = secs
    # the longer runs' settings, once: the cache key of each run and the record of all of them
    long_settings = {
        "long_epochs": args.long_epochs,
        "long_lr": args.lr,
        "long_quantizer": args.long_quantizer,
        "long_weight_decay": args.long_weight_decay,
        "long_seed": args.long_seed,
    }
    for long_lmbda in [float(v) for v in args.long_lmbda.split(",")] if args.long_epochs else []:
        # longer runs (cosine learning rate) at the λ values that aim at the goal, from the same first model
        want = {**base_settings, "long_lmbda": long_lmbda, **long_settings}
        name = f"long_lmbda_{long_lmbda:g}"
        codec, secs = cached(name, want)
        if codec is None:
            codec = copy.deepcopy(base)
            start = time.perf_counter()
            train_codec(
                codec,
                X_train,
                lmbda=long_lmbda,
                epochs=args.long_epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                lr_schedule="cosine",
                quantizer=args.long_quantizer,
                seed=args.long_seed,
                optimizer="adamw" if args.long_weight_decay else "adam",
                weight_decay=args.long_weight_decay,
                progress=False,
            )
            secs = time.perf_counter() - start
            keep(codec, name, secs, want)
        codecs[f"long_{long_lmbda:g}"] = codec
        seconds[name] = secs
    if args.long_epochs:
        settings = {
            **settings,
            "long_lmbdas": args.long_lmbda,
            **long_settings,
            "long_lr": f"{args.lr} cosine",
        }
    return codecs, seconds, {**settings, "trained_on": devices}


# ---------------------------------------------------------------------- measuring
def codec_point(codec: Codec, X: np.ndarray) -> dict:
    start = time.perf_counter()
    chunks = [codec.compress(X[i : i + CHUNK]) for i in range(0, len(X), CHUNK)]
    recon = np.concatenate([codec.decompress(c) for c in chunks])
    one = [len(codec.compress(X[i : i + 1])) for i in range(len(X))]
    estimate = codec.tables.bits(codec.symbols(X)).mean() / 8
    return {
        "lmbda": codec.lmbda,
        "fingerprint": codec.fingerprint.hex(),
        "amortised_bytes": sum(map(len, chunks)) / len(X),
        "one_image_bytes": float(np.mean(one)),
        "one_image_bytes_max": int(max(one)),
        "ideal_bytes": float(estimate),
        "psnr_db": metrics.psnr(X, np.clip(recon, 0, 1)),
        "seconds": time.perf_counter() - start,
    }


def pca_points(
    X_train, X, ks=(4, 6, 8, 12, 16, 24, 32, 48, 64), steps=(0.25, 0.35, 0.5, 0.7, 1.0, 1.4)
) -> list:
    """PCA coefficients rounded to step q, tables from the training histogram, same coder and container."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=max(ks), random_state=0).fit(X_train[:20000])
    C_train, C_test = pca.transform(X_train[:20000]), pca.transform(X)
    points = []
    for k in ks:
        for q in steps:
            s_train = np.rint(C_train[:, :k] / q).astype(np.int64)
            lo, hi = s_train.min(0) - 1, s_train.max(0) + 1
            width = int((hi - lo).max()) + 1
            freqs = np.zeros((k, width), dtype=np.int64)
            for d in range(k):
                counts = np.bincount(s_train[:, d] - lo[d], minlength=hi[d] - lo[d] + 1).astype(float) + 0.5
                freqs[d, : len(counts)] = _quantise(counts / counts.sum(), 16)
            tables = Tables(lo, hi - lo + 1, freqs, 16)
            s_test = tables.clip(np.rint(C_test[:, :k] / q).astype(np.int64))
            fp = bytes(bitstream.FINGERPRINT_BYTES)
            amortised = sum(
                len(
                    bitstream.pack(fp, len(s_test[i : i + CHUNK]), (k,), tables.encode(s_test[i : i + CHUNK]))
                )
                for i in range(0, len(X), CHUNK)
            ) / len(X)
            one = np.mean(
                [
                    len(bitstream.pack(fp, 1, (k,), tables.encode(s_test[i : i + 1])))
                    for i in range(min(1000, len(X)))
                ]
            )
            coeffs = np.zeros_like(C_test)
            coeffs[:, :k] = s_test * q
            recon = np.clip(pca.inverse_transform(coeffs), 0, 1)
            points.append(
                {
                    "k": k,
                    "step": q,
                    "amortised_bytes": amortised,
                    "one_image_bytes": float(one),
                    "psnr_db": metrics.psnr(X, recon),
                }
            )
    return points


def pillow_points(X) -> dict:
    from PIL import Image

    images = np.round(X.reshape(-1, 28, 28) * 255).astype(np.uint8)
    out = {"jpeg": [], "webp": [], "png": None}

    def run(fmt, **kw):
        sizes, recon = [], np.empty(images.shape, dtype=np.float32)
        for i, im in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, format=fmt, **kw)
            sizes.append(buf.tell())
            recon[i] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"), dtype=np.float32) / 255
        return float(np.mean(sizes)), metrics.psnr(X, recon.reshape(len(X), -1))

    for q in (5, 10, 20, 30, 50, 75, 90):
        b, p = run("JPEG", quality=q)
        out["jpeg"].append({"quality": q, "bytes": b, "psnr_db": p})
    for q in (0, 5, 10, 20, 30, 50, 75, 90):
        b, p = run("WEBP", quality=q)
        out["webp"].append({"quality": q, "bytes": b, "psnr_db": p})
    b, p = run("PNG", optimize=True)
    out["png"] = {"bytes": b, "psnr_db": p if np.isfinite(p) else "inf"}
    return out


def hull_psnr(points, x_key, x):
    """Best PSNR reachable at <= x bytes on the upper hull (linear interpolation); None below the range."""
    pts = sorted((p[x_key], p["psnr_db"]) for p in points)
    best, frontier = -np.inf, []
    for b, p in pts:
        if p > best:
            frontier.append((b, p))
            best = p
    xs, ys = zip(*frontier)
    if x < xs[0]:
        return None
    return float(np.interp(x, xs, ys))


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    c = sorted(
        (p for p in result["codec"] if not p["run"].startswith("long")), key=lambda p: p["amortised_bytes"]
    )
    for p in result["codec"]:
        if p["run"].startswith("long"):
            ax.plot(
                [p["amortised_bytes"]],
                [p["psnr_db"]],
                "*",
                ms=12,
                color="C0",
                label=f"aekit codec, longer run ({p['run']}), 1000-image msg",
            )
            ax.plot(
                [p["one_image_bytes"]],
                [p["psnr_db"]],
                "*",
                ms=12,
                color="C1",
                label=f"{p['run']}, one-image msg",
            )
    ax.plot(
        [p["amortised_bytes"] for p in c],
        [p["psnr_db"] for p in c],
        "o-",
        label="aekit codec, 1000-image msg",
    )
    ax.plot(
        [p["one_image_bytes"] for p in c],
        [p["psnr_db"] for p in c],
        "o--",
        label="aekit codec, one-image msg",
    )
    pca = result["pca"]
    for k in sorted({p["k"] for p in pca}):
        pts = sorted((p for p in pca if p["k"] == k), key=lambda p: p["amortised_bytes"])
        ax.plot(
            [p["amortised_bytes"] for p in pts],
            [p["psnr_db"] for p in pts],
            ".-",
            color="0.6",
            lw=0.8,
            label="PCA + same coder, 1000-image msg" if k == min(p["k"] for p in pca) else None,
        )
    for fmt, marker in (("jpeg", "s-"), ("webp", "^-")):
        pts = result["pillow"][fmt]
        ax.plot(
            [p["bytes"] for p in pts], [p["psnr_db"] for p in pts], marker, label=f"{fmt.upper()} (Pillow)"
        )
    ax.axvline(result["pillow"]["png"]["bytes"], color="k", ls=":", label="PNG (lossless)")
    ax.axhline(GOAL["psnr_db"], color="r", lw=0.6, ls="--")
    ax.axvline(GOAL["amortised_bytes"], color="r", lw=0.6, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image")
    ax.set_ylabel("PSNR (dB, mean over images)")
    ax.set_title("MNIST test set: rate-distortion from real bitstreams")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    from aekit.viz import save_figure

    save_figure(fig, path)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    X_train, _ = load_mnist(args.data_root, "train")
    X_test, _ = load_mnist(args.data_root, "test")
    X_train, X_test = X_train[: args.n_train], X_test[: args.n_test]
    codecs, train_seconds, settings = train_all(args, X_train)
    if args.train_only:
        logging.info(
            "trained: %s", json.dumps({"seconds": train_seconds, "trained_on": settings["trained_on"]})
        )
        return
    logging.info("measuring codecs")
    codec_pts = [{"run": str(key), **codec_point(c, X_test)} for key, c in codecs.items()]
    logging.info("measuring PCA")
    pca_pts = pca_points(X_train, X_test)
    logging.info("measuring Pillow")
    pillow = pillow_points(X_test)

    # goals, at the cheapest codec point that reaches the PSNR goal
    ok = [p for p in codec_pts if p["psnr_db"] >= GOAL["psnr_db"]]
    at = min(ok, key=lambda p: p["amortised_bytes"]) if ok else max(codec_pts, key=lambda p: p["psnr_db"])
    pca_at = hull_psnr(pca_pts, "amortised_bytes", at["amortised_bytes"])
    webp_hull = hull_psnr(pillow["webp"], "bytes", 1e9)
    webp_equal = next(
        (w for w in sorted(pillow["webp"], key=lambda w: w["bytes"]) if w["psnr_db"] >= at["psnr_db"]), None
    )
    gaps = []
    for p in codec_pts:
        h = hull_psnr(pca_pts, "amortised_bytes", p["amortised_bytes"])
        gaps.append(None if h is None else p["psnr_db"] - h)
    goals = {
        "operating_point": {
            "run": at["run"],
            "lmbda": at["lmbda"],
            "psnr_db": at["psnr_db"],
            "amortised_bytes": at["amortised_bytes"],
            "one_image_bytes": at["one_image_bytes"],
        },
        "psnr_at_least_23.3_db": at["psnr_db"] >= GOAL["psnr_db"],
        "amortised_at_most_16_bytes": at["amortised_bytes"] <= GOAL["amortised_bytes"],
        "one_image_at_most_24_bytes": at["one_image_bytes"] <= GOAL["one_image_bytes"],
        "pca_psnr_at_equal_bytes": pca_at,
        "gain_over_pca_db": None if pca_at is None else at["psnr_db"] - pca_at,
        "gain_over_pca_at_least_4_db": None
        if pca_at is None
        else at["psnr_db"] - pca_at >= GOAL["pca_gap_db"],
        "gain_over_pca_db_per_run": dict(zip([p["run"] for p in codec_pts], gaps)),
        "smallest_webp_at_equal_or_better_psnr": webp_equal,
        "size_ratio_vs_webp_at_equal_psnr": None
        if webp_equal is None
        else webp_equal["bytes"] / at["amortised_bytes"],
        "best_webp_psnr_db": webp_hull,
    }
    result = {
        "benchmark": "codec_rd",
        "data": f"MNIST test set (first {len(X_test)} images), real bitstream bytes",
        "psnr": "mean over images of 10 log10(1 / MSE), pixels in [0, 1]",
        "goal": GOAL,
        "goals": goals,
        "codec": codec_pts,
        "pca": pca_pts,
        "pillow": pillow,
        "training": {
            **settings,
            "lambdas": [float(v) for v in args.lambdas.split(",") if v],
            "seconds": train_seconds,
            "threads": args.threads,
            "architecture": f"dense 784-{args.hidden}-mirror, ReLU, linear latent, sigmoid output; "
            "factorized mixture-of-3-logistics prior per latent",
        },
        "seconds": time.perf_counter() - start,
        "command": "python " + " ".join([str(Path(sys.argv[0]))] + sys.argv[1:]),
        "machine": f"2 CPU cores shared with other jobs, torch {torch.__version__}",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2, default=float) + "\n")
    plot(result, out.with_suffix(".png"))
    logging.info("goals: %s", json.dumps(goals, default=float))
    print(json.dumps({"codec": codec_pts, "goals": goals}, indent=1, default=float))


if __name__ == "__main__":
    main()
