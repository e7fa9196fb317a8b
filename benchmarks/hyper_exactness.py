"""Bit-exact decoding of hyperprior streams on Kodak: torch vs onnxruntime x threads x batch, and the naive float h_s.

For each shipped hyperprior codec (or ``--models``) and each Kodak image, three encoders write
a stream — torch (batch 1), onnxruntime with 1 thread (batch 1), onnxruntime with 2 threads
(all the images of one size as one batch) — and three decoders read each stream — torch,
onnxruntime with 1 and 2 threads (the integer h_s of :mod:`aekit.codec.intnet` on every side).
A symbol is mismatched when the decoder's ẑ, scale index j or ŷ differs from the encoder's;
a stream fails when any of its symbols is mismatched or it does not decode. Goal: 0.

The naive design for contrast: the same h_s in float32, without the integer grid (plain
convolutions and ReLUs of the float weights, j = clip(⌊t + ½⌋, 0, 63)), computed by
onnxruntime (the phone, 1 thread, on the batch) for the encoder and by torch (the cloud) for the
decoder. The y payload is coded with the encoder's indices and decoded with the decoder's; the
report counts mismatched indices, mismatched symbols, and streams that fail.

    OMP_NUM_THREADS=2 PYTHONPATH=src python benchmarks/hyper_exactness.py --limit 24
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from common import KODAK, kodak_files, shipped_hyperprior_dirs

HERE = Path(__file__).resolve().parent


class FloatHyperSynthesis(nn.Module):
    """The naive h_s: the trained float weights, float ReLUs, the index rounded at the end."""

    def __init__(self, h_s: nn.Module):
        super().__init__()
        from aekit.codec.hyper_synthesis import GAIN

        self.h_s, self.gain = h_s, GAIN

    def forward(self, z_hat: torch.Tensor) -> torch.Tensor:
        d1, d2, c3 = self.h_s.deconv1, self.h_s.deconv2, self.h_s.conv3
        u = F.relu(F.conv_transpose2d(z_hat, d1.weight, d1.bias, 2, 2, 1))
        u = F.relu(F.conv_transpose2d(u, d2.weight, d2.bias, 2, 2, 1))
        return F.conv2d(u, self.gain * c3.weight, self.gain * c3.bias, 1, 1)  # t, before rounding


def _index(t: np.ndarray, levels: int) -> np.ndarray:
    return np.clip(np.floor(t + 0.5), 0, levels - 1).astype(np.int64)


def check_model(directory: Path, images: list[np.ndarray], names: list[str]) -> dict:
    from aekit.codec import pixels
    from aekit.codec.device import _session
    from aekit.codec.device_hyper import HyperDeviceDecoder, HyperDeviceEncoder
    from aekit.codec.export import export_onnx
    from aekit.codec.hyper_message import decode_hyper_symbols, hyper_size
    from aekit.codec.hyperprior import HyperpriorCodec
    from aekit.errors import BitstreamError

    codec = HyperpriorCodec.load(directory).eval()
    tables = codec.hyper_tables
    encoders = {
        "torch": codec,
        "ort-1thread": HyperDeviceEncoder(directory, threads=1),
        "ort-2threads-batch": HyperDeviceEncoder(directory, threads=2),
    }
    decoders = {"torch": None, "ort-1thread": HyperDeviceDecoder(directory, threads=1)}
    decoders["ort-2threads"] = HyperDeviceDecoder(directory, threads=2)
    streams: dict[str, list[bytes]] = {}
    for name, enc in encoders.items():
        if name.endswith("batch"):  # one batch per image size
            out: list[bytes] = [b""] * len(images)
            for shape in {im.shape for im in images}:
                idx = [i for i, im in enumerate(images) if im.shape == shape]
                for i, data in zip(idx, enc.compress_batch([images[i] for i in idx])):
                    out[i] = data
            streams[name] = out
        else:
            streams[name] = [enc.compress(im) for im in images]
    mismatched = failed = decoded = symbols = 0
    for ename, enc in encoders.items():
        for i, image in enumerate(images):
            z, j, y = enc.symbols(image)
            for dec in decoders.values():
                t_, f_ = (tables, codec.fingerprint) if dec is None else (dec.tables, dec.fingerprint)
                decoded += 1
                symbols += z.size + j.size + y.size
                try:
                    z2, j2, y2, _, _ = decode_hyper_symbols(streams[ename][i], t_, f_, 3)
                except BitstreamError:
                    failed += 1
                    mismatched += y.size
                    continue
                bad = int((z != z2).sum() + (j != j2).sum() + (y != y2).sum())
                mismatched += bad
                failed += bad > 0
    # ------------------------------------------------------------------ the naive float h_s
    naive = FloatHyperSynthesis(codec.h_s).eval()
    with tempfile.TemporaryDirectory() as tmp:
        free = {0: "n", 2: "h", 3: "w"}
        onnx_file = export_onnx(naive, (codec.N, 3, 4), Path(tmp) / "h_s.onnx",
                                names=("z", "t"), dynamic_axes={"z": free, "t": free})  # fmt: skip
        session = _session(onnx_file, 1)
        levels = tables.y.dim
        naive_bad_idx = naive_bad_sym = naive_failed = naive_idx = 0
        near = []
        for image in images:
            z_sym, _, _ = codec.symbols(image)
            h, w = pixels.latent_size(*image.shape[:2])
            assert (z_sym.shape[1], z_sym.shape[2]) == hyper_size(h, w)
            zf = z_sym[None].astype(np.float32)
            t_phone = session.run(None, {"z": zf})[0][0, :, :h, :w]
            with torch.inference_mode():
                t_cloud = naive(torch.from_numpy(zf))[0, :, :h, :w].numpy()
            j_phone, j_cloud = _index(t_phone, levels), _index(t_cloud, levels)
            near.append(float(np.abs(t_phone - t_cloud).max()))
            y, _ = codec.analyse(torch.from_numpy(pixels.to_input(image)))
            y_sym = tables.y.quantize_indexed(y[0], j_phone)
            payload = tables.y.encode_indexed(y_sym, j_phone)
            naive_idx += j_phone.size
            bad = int((j_phone != j_cloud).sum())
            naive_bad_idx += bad
            try:
                y2 = tables.y.decode_indexed(payload, j_cloud)
                wrong = int((y2 != y_sym.ravel()).sum())
            except BitstreamError:
                wrong = y_sym.size
            naive_bad_sym += wrong
            naive_failed += wrong > 0
    return {
        "model": directory.name,
        "model_id": codec.model_id.hex(),
        "images": len(images),
        "integer_h_s": {
            "streams_decoded": decoded,
            "symbols_compared": symbols,
            "mismatched_symbols": mismatched,
            "failed_streams": failed,
        },
        "float_h_s": {
            "indices": naive_idx,
            "mismatched_indices": naive_bad_idx,
            "mismatched_y_symbols": naive_bad_sym,
            "failed_streams": naive_failed,
            "max_abs_t_difference": max(near),
        },
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kodak", default=str(KODAK))
    p.add_argument(
        "--models", nargs="*", default=None, help="hyperprior codec directories (default: shipped)"
    )
    p.add_argument("--limit", type=int, default=None, help="only the first images")
    p.add_argument("--out", default=str(HERE / "results" / "hyper_exactness.json"))
    args = p.parse_args(argv)
    from aekit.codec import pixels

    files = kodak_files(args.kodak, args.limit)
    images = [pixels.read_image(f) for f in files]
    names = [f.stem for f in files]
    dirs = [Path(d) for d in args.models] if args.models else shipped_hyperprior_dirs()
    start = time.perf_counter()
    results = []
    for d in dirs:
        results.append(check_model(d, images, names))
        print(json.dumps(results[-1]), flush=True)
    report = {"images": names, "seconds": time.perf_counter() - start, "models": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
