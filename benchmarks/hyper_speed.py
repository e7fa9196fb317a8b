"""Speed of the integer h_s (float64 BLAS products vs NumPy int64) and of the whole hyperprior decode, on Kodak.

For each shipped hyperprior codec (or ``--models``) and each Kodak image, the stream is made
once (device encoder), then, alternating image by image and taking the best of ``--repeat``
runs of each:

- h_s alone on the decoded ẑ: :class:`aekit.codec.intnet.IntegerNet` as it runs now (float64
  BLAS products where the layer's bound is below 2^53), the same with 2 BLAS threads, with
  ``blas=False`` (NumPy int64 products: the fallback), and with ``--before SRC`` the
  ``intnet.py`` of another source tree (e.g. ``/work/main/src``: the int64 einsum code before
  this change);
- the whole decode (stream -> pixels), torch-free device decoder (onnxruntime g_s) and torch
  codec, with h_s as now and as before (``--before``; else the int64 fallback).

Every variant's indices and pixels are checked equal to the current code's. One thread
everywhere (``OMP_NUM_THREADS=1`` also holds OpenBLAS to one).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/hyper_speed.py --before /work/main/src
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/hyper_speed.py --before /work/main/src \\
        --models src/aekit/pretrained/codec/hyperprior-q2 --photo 3000x4000 --out benchmarks/results/hyper_speed_12mp.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common import KODAK, kodak_files, shipped_hyperprior_dirs

HERE = Path(__file__).resolve().parent


def load_before(src: Path) -> object:
    """The ``aekit/codec/intnet.py`` module of another source tree (it needs numpy only)."""
    spec = importlib.util.spec_from_file_location("before_intnet", src / "aekit" / "codec" / "intnet.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no aekit/codec/intnet.py under {src}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["before_intnet"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def best_time(fn: Callable[..., Any], arg: object, repeat: int) -> tuple[float, Any]:
    """The least seconds of ``repeat`` calls fn(arg), and its result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(arg)
        best = min(best, time.perf_counter() - start)
    return best, out


@contextlib.contextmanager
def swapped_net(tables: object, net: object) -> Iterator[None]:
    """Decode with another h_s for a while (the tables hold the one the decoder calls)."""
    saved = tables.net  # type: ignore[attr-defined]
    tables.net = net  # type: ignore[attr-defined]
    try:
        yield
    finally:
        tables.net = saved  # type: ignore[attr-defined]


class Int64Only:
    """The current h_s with every layer in NumPy int64 products (``blas=False``)."""

    def __init__(self, net: Callable[..., np.ndarray]):
        self.net = net

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.net(z, blas=False)


def check_model(directory: Path, images: list[np.ndarray], before: object | None, repeat: int) -> dict:
    from aekit.codec.device_hyper import HyperDeviceDecoder, HyperDeviceEncoder
    from aekit.codec.hyper_message import decode_hyper_symbols
    from aekit.codec.hyperprior import HyperpriorCodec

    encoder = HyperDeviceEncoder(directory, threads=1)
    device = HyperDeviceDecoder(directory, threads=1)
    codec = HyperpriorCodec.load(directory).eval()
    net = device.tables.net
    old = before.IntegerNet.from_state(net.state()) if before is not None else Int64Only(net)  # type: ignore[attr-defined]
    h_s: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "float64_blas": net,
        "int64": lambda z: net(z, blas=False),
    }
    if before is not None:
        h_s["before"] = old
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it, no second thread count
        threadpool_limits = None
    if threadpool_limits is not None:

        def two_threads(z: np.ndarray) -> np.ndarray:
            with threadpool_limits(2, user_api="blas"):
                return net(z)

        h_s["float64_blas_2threads"] = two_threads
    decoders: dict[str, tuple[Any, Any]] = {
        "device": (device, device.tables),
        "torch": (codec, codec.hyper_tables),
    }
    times: dict[str, list[float]] = {k: [] for k in h_s}
    for name in decoders:
        times[f"decode_{name}_now"], times[f"decode_{name}_before"] = [], []
    for image in images:
        stream = encoder.compress(image)
        z = decode_hyper_symbols(stream, device.tables, device.fingerprint, device.channels)[0][None]
        reference = None
        for key, fn in h_s.items():
            seconds, j = best_time(fn, z, repeat)
            times[key].append(seconds)
            reference = j if reference is None else reference
            if not np.array_equal(j, reference):
                raise SystemExit(f"{directory.name}: h_s {key} gives other indices than float64_blas")
        for name, (decoder, tables) in decoders.items():
            with torch.inference_mode():
                seconds, pixels_now = best_time(decoder.decompress, stream, repeat)
                times[f"decode_{name}_now"].append(seconds)
                with swapped_net(tables, old):
                    seconds, pixels_before = best_time(decoder.decompress, stream, repeat)
                times[f"decode_{name}_before"].append(seconds)
            if not np.array_equal(pixels_now, pixels_before):
                raise SystemExit(f"{directory.name}: {name} decode differs with the before h_s")
    mean = {k: float(np.mean(v)) for k, v in times.items()}
    return {
        "model": directory.name,
        "images": len(images),
        "layer_bounds_log2": [round(float(np.log2(b)), 2) for b in net.bounds],
        "blas_layers": list(net.blas),
        "mean_seconds_per_image": mean,
        "h_s_speedup_vs_int64": mean["int64"] / mean["float64_blas"],
        "h_s_speedup_vs_before": mean["before"] / mean["float64_blas"] if before is not None else None,
        "decode_speedup": {n: mean[f"decode_{n}_before"] / mean[f"decode_{n}_now"] for n in decoders},
    }


def photo_h_s(directory: Path, size: str, before: object | None, repeat: int) -> dict:
    """h_s alone on a random ẑ the size of an H×W photo's (every value z's tables allow): seconds
    (best of ``repeat``) and peak NumPy allocations (tracemalloc) of each variant."""
    import tracemalloc

    from aekit.codec import files
    from aekit.codec.hyper_message import hyper_size
    from aekit.codec.pixels import latent_size

    height, width = (int(v) for v in size.lower().split("x"))
    net = files.read_integer_net(files.encoder_file(directory, files.read(directory), "hyper_synthesis"))
    hz, wz = hyper_size(*latent_size(height, width))
    z = np.random.default_rng(0).integers(-net.input_max, net.input_max + 1, (1, net.in_channels, hz, wz))
    variants: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "float64_blas": net,
        "int64": lambda z: net(z, blas=False),
    }
    if before is not None:
        variants["before"] = before.IntegerNet.from_state(net.state())  # type: ignore[attr-defined]
    seconds, peak_mib, reference = {}, {}, net(z)
    for key, fn in variants.items():
        tracemalloc.start()
        seconds[key], j = best_time(fn, z, repeat)
        peak_mib[key] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        if not np.array_equal(j, reference):
            raise SystemExit(f"{directory.name}: h_s {key} gives other indices than float64_blas")
    return {"model": directory.name, "photo": size, "z_shape": list(z.shape), "seconds": seconds,
            "peak_numpy_mib": peak_mib}  # fmt: skip


def blas_info() -> list[dict] | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: v for k, v in lib.items() if k != "filepath"} for lib in threadpool_info()]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kodak", default=str(KODAK))
    p.add_argument(
        "--models", nargs="*", default=None, help="hyperprior codec directories (default: shipped)"
    )
    p.add_argument("--limit", type=int, default=None, help="only the first images")
    p.add_argument("--repeat", type=int, default=2, help="runs of each variant per image (the best counts)")
    p.add_argument("--before", default=None, metavar="SRC", help="also time intnet.py of this source tree")
    p.add_argument(
        "--photo", default=None, metavar="HxW", help="instead of Kodak: h_s alone for a photo of this size"
    )
    p.add_argument("--out", default=str(HERE / "results" / "hyper_speed.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from aekit.codec import pixels

    files = [] if args.photo else kodak_files(args.kodak, args.limit)
    images = [pixels.read_image(f) for f in files]
    dirs = [Path(d) for d in args.models] if args.models else shipped_hyperprior_dirs()
    before = load_before(Path(args.before)) if args.before else None
    start = time.perf_counter()
    results = []
    for d in dirs:
        if args.photo:
            results.append(photo_h_s(d, args.photo, before, args.repeat))
        else:
            results.append(check_model(d, images, before, args.repeat))
        print(json.dumps(results[-1]), flush=True)
    report = {
        "command": "python " + " ".join(sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "images": [f.stem for f in files],
        "before_src": args.before,
        "torch_threads": torch.get_num_threads(),
        "blas": blas_info(),
        "seconds": time.perf_counter() - start,
        "models": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
