"""Sub-commands of the phone-to-cloud codec: ``codec train|compress|decompress|export``, ``serve``, ``send``."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..codec.tiling import DEFAULT_TILE, check_tile
from .choices import ACTIVATION_NAMES
from .common import (
    add_data_arguments,
    atomic_path,
    int_list,
    is_main,
    load_data,
    out_file,
    positive_float,
    positive_int,
    say,
    write_array,
    write_json,
)
from .core import add_fit_arguments, fit_options, split_off_validation


def register(sub: argparse._SubParsersAction) -> None:
    codec = sub.add_parser(
        "codec",
        help="train, compress, decompress and export a learned codec",
        description="The phone-to-cloud codec: rate-distortion training, bitstreams, ONNX.",
    )
    from . import Parser

    csub = codec.add_subparsers(dest="codec_command", metavar="ACTION", required=True, parser_class=Parser)

    p = csub.add_parser("train", help="train an autoencoder for compression (L = D + λ·R) and save the codec")
    add_data_arguments(p)
    p.add_argument(
        "--hidden", type=int_list, default=[256, 32], help="encoder sizes, last is the latent (256,32)"
    )
    p.add_argument("--activation", default="relu", choices=ACTIVATION_NAMES)
    p.add_argument(
        "--lmbda", type=float, default=0.02, help="λ: squared error per item traded per bit (0.02)"
    )
    p.add_argument("--components", type=int, default=3, help="logistic components per latent density (3)")
    p.add_argument(
        "--quantizer",
        default="noise",
        choices=["noise", "ste"],
        help="decoder input in training: y+U(-½,½) (noise) or straight-through rounding (ste)",
    )
    add_fit_arguments(
        p, resume=False
    )  # train_codec has no checkpoints to resume from; the conv model's own below
    p.add_argument("--out", required=True, help="codec directory to write")
    _add_photo_train_arguments(p)
    p.set_defaults(func=cmd_train, batch_size=None, lr=None)

    p = csub.add_parser("models", help="list the photo codecs shipped with aekit (rate and PSNR on Kodak)")
    p.set_defaults(func=cmd_models)

    _add_coding_parsers(csub)
    _add_serve_parser(sub)
    _add_send_parser(sub)


def _add_photo_train_arguments(p: argparse.ArgumentParser) -> None:
    """``codec train --model conv``: the photo codec's own settings."""
    p.add_argument(
        "--model",
        default="dense",
        choices=["dense", "conv", "hyperprior"],
        help="dense: an autoencoder of fixed-size items (default); conv: the photo codec "
        "(GDN, any image size; --data is a directory of photos); hyperprior: the scale-hyperprior "
        "photo codec (bit-exact decoding anywhere)",
    )
    p.add_argument("--crop", type=int, default=256, help="conv: side of the random training crops (256)")
    p.add_argument("--steps", type=int, default=100_000, help="conv: Adam steps in all (100000)")
    p.add_argument("--N", type=int, default=64, help="conv: channels of the hidden layers (64)")
    p.add_argument("--M", type=int, default=96, help="conv: channels of the code (96)")
    p.add_argument("--channels", type=int, default=3, choices=[1, 3], help="conv: 3 (RGB) or 1 (grayscale)")
    p.add_argument(
        "--minutes", type=positive_float, default=None, help="conv: stop (checkpointed) after this long"
    )
    p.add_argument("--device", default=None, help="conv: cpu, cuda, cuda:1... (default: a GPU when present)")
    p.add_argument("--resume", action="store_true", help="conv: continue the run saved in --out")
    p.add_argument(
        "--checkpoint-minutes", type=positive_float, default=5.0, help="conv: minutes between checkpoints (5)"
    )


def _add_coding_parsers(csub: argparse._SubParsersAction) -> None:
    """``codec compress|decompress|export``."""
    p = csub.add_parser(
        "compress",
        help="compress a photo (PHOTO --quality Q) or --data of a codec of fixed-size items (DIR) into a bitstream",
    )
    p.add_argument("model_dir", metavar="DIR|PHOTO", help="a codec directory, or a photo (PNG, JPEG, ...)")
    add_data_arguments(p)
    p.add_argument("--n", type=int, default=None, help="only the first N items")
    p.add_argument("--out", required=True, help="bitstream file to write (e.g. codes.aek)")
    _add_photo_model_arguments(p)
    p.set_defaults(func=cmd_compress)

    p = csub.add_parser("decompress", help="decode a bitstream file to .npy or .png (a photo stream: .png)")
    p.add_argument("model_dir", metavar="DIR", help="the codec directory (leave out for a photo stream)")
    p.add_argument("stream", metavar="FILE", nargs="?")
    p.add_argument("--out", required=True, type=out_file(".npy", ".png"), help="recon.npy or recon.png")
    p.add_argument(
        "--model",
        default=None,
        metavar="DIR",
        help="photo codec directory (default: the shipped one that made the stream)",
    )
    add_tile_argument(p)
    p.set_defaults(func=cmd_decompress)

    p = csub.add_parser("export", help="write the ONNX encoder and device tables (encoder.onnx, codec.json)")
    p.add_argument("model_dir", metavar="DIR")
    p.add_argument(
        "--out",
        default=None,
        help="ONNX file, with codec.json beside it naming it (default: DIR/encoder.onnx)",
    )
    p.set_defaults(func=cmd_export)


def _add_serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the decode service (FastAPI + uvicorn)")
    p.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="DIR",
        help="codec directory (repeatable; default: the photo codecs shipped with aekit)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8000, help="TCP port, 1..65535")
    p.add_argument("--max-body-mib", type=float, default=16.0, help="largest request body (16 MiB)")
    p.add_argument(
        "--max-output-mib",
        type=float,
        default=64.0,
        help="largest decoded answer, items x item size x 4 bytes, or a photo's H x W x C (64 MiB); 413 beyond",
    )
    p.add_argument(
        "--no-batching",
        action="store_true",
        help="decode every request alone (default: concurrent small requests share one decoder pass)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes sharing the port, one core each (default 1; each loads the models)",
    )
    p.add_argument(
        "--log-level",
        default=None,
        choices=LOG_LEVELS,
        help="uvicorn's log level; info (the default, warning with -q) logs every request (access log)",
    )
    add_tile_argument(p)
    _add_serve_limits(p)
    p.set_defaults(func=cmd_serve)


def _add_serve_limits(p: argparse.ArgumentParser) -> None:
    """``serve``'s bounds on work in flight and on slow clients (README, Reliability)."""
    p.add_argument(
        "--max-memory-mib",
        type=positive_float,
        default=1024.0,
        help="memory the requests in flight may hold together (1024 MiB); beyond, a request waits "
        "1 s for room, then gets 503 with Retry-After",
    )
    p.add_argument(
        "--max-items", type=positive_int, default=16384, help="most items per request (16384); 413 beyond"
    )
    p.add_argument(
        "--header-timeout",
        type=positive_float,
        default=10.0,
        help="seconds to receive a request's headers (10)",
    )
    p.add_argument("--body-timeout", type=positive_float, default=30.0, help="seconds to receive a body (30)")
    p.add_argument(
        "--max-connections",
        type=positive_int,
        default=512,
        help="open connections (512; keep it under `ulimit -n`); 503 beyond",
    )


def _add_send_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "send", help="compress images on this machine (ONNX, no torch) and decode them on a server"
    )
    p.add_argument("--server", required=True, help="service URL, e.g. http://127.0.0.1:8000")
    p.add_argument(
        "--model",
        default=None,
        metavar="DIR",
        help="codec directory with encoder.onnx, or a shipped photo codec family: factorized (default) "
        "or hyperprior, of --quality",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG...) or .npy arrays")
    p.add_argument("--quality", type=int, default=None, help="shipped photo codec (see `aekit codec models`)")
    p.add_argument(
        "--out",
        default=None,
        type=out_file(".npy", ".png"),
        help="write the server's answer (.npy or .png; default: IMAGE-decoded.npy, a photo's "
        "PHOTO-decoded.png, in the current directory, never replacing a file)",
    )
    p.add_argument("--timeout", type=positive_float, default=30.0, help="seconds to wait for the server, > 0")
    add_tile_argument(p)
    p.set_defaults(func=cmd_send)


# ---------------------------------------------------------------------- codec
def cmd_train(args) -> int:
    if args.model in ("conv", "hyperprior"):
        return cmd_train_photo(args)
    if args.resume:
        raise ValueError("--resume continues a --model conv run; a dense codec trains in one go")
    args.batch_size = 128 if args.batch_size is None else args.batch_size
    args.lr = 1e-3 if args.lr is None else args.lr
    from ..codec.measure import draw_reconstructions, rd_point
    from ..codec.training import train_codec
    from ..nn import Autoencoder
    from ..train import seed_everything
    from .runs import finish_run, load_test, run_directory

    X, y = load_data(args, "train")
    X_test, _ = load_test(args)
    X_tr, _, X_val, _ = split_off_validation(X, y, args)
    out = run_directory(args.out, overwrite=args.overwrite)
    seed_everything(args.seed)
    model = Autoencoder(
        X.shape[1],
        args.hidden,
        activation=args.activation,
        code_activation="linear",
        output_activation="sigmoid",
        loss="mse",
    )
    start = time.perf_counter()
    codec = train_codec(
        model,
        X_tr,
        X_val=X_val,
        lmbda=args.lmbda,
        components=args.components,
        quantizer=args.quantizer,
        **fit_options(args),
    )
    seconds = time.perf_counter() - start
    if not is_main():  # under torchrun: rank 0 writes the codec, its ONNX encoder and the report
        return 0
    codec.save(out)
    if X_test is None:
        X_test = X_val if X_val is not None else X_tr
    report = {
        "data": args.data,
        "lmbda": args.lmbda,
        "seconds": seconds,
        "fingerprint": codec.fingerprint.hex(),
        **rd_point(codec, X_test),
    }
    write_json(out / "metrics.json", report)
    with contextlib.suppress(ValueError):  # items that are not images: no figure
        draw_reconstructions(codec, X_test, out / "reconstructions.png")
    out = finish_run(out)
    say(
        f"trained codec {codec.model_id.hex()} in {seconds:.1f}s: {report['bytes_per_item']:.2f} bytes/item, "
        f"PSNR {report['psnr_db']:.2f} dB -> {out}"
    )
    return 0


def cmd_compress(args) -> int:
    if Path(args.model_dir).is_file():
        return cmd_compress_photo(args)
    from ..codec.model import Codec
    from .codec_runs import codec_items

    codec = Codec.load(args.model_dir)
    if args.n is not None and args.n < 1:
        raise ValueError(f"--n must be >= 1, got {args.n}")
    X = codec_items(args, codec, limit=args.n)  # of the codec's item size, or a one-line error
    data = codec.compress(X)
    with atomic_path(args.out) as tmp:
        tmp.write_bytes(data)
    say(f"{len(X)} items -> {len(data)} bytes ({len(data) / len(X):.2f} bytes/item) -> {args.out}")
    return 0


def cmd_decompress(args: argparse.Namespace) -> int:
    if args.stream is None:
        return cmd_decompress_photo(args)
    from ..codec import bitstream
    from ..codec.model import Codec

    codec = Codec.load(args.model_dir)
    data = bitstream.read_file(args.stream)
    X = codec.decompress(data)
    _write_output(args.out, X, codec.image_shape)
    say(f"{len(data)} bytes -> {len(X)} items -> {args.out}")
    return 0


def cmd_export(args) -> int:
    from ..codec.model import Codec

    codec = Codec.load(args.model_dir)
    if args.out is None:
        codec.save(args.model_dir)  # rewrites the checkpoint with encoder.onnx and codec.json
        out = Path(args.model_dir) / "encoder.onnx"
    else:
        out = codec.export(args.out)  # codec.json beside it names this file
    say(f"ONNX encoder (checked) -> {out}, tables -> {out.with_name('codec.json')}")
    return 0


# ---------------------------------------------------------------------- service
def port_number(text: str) -> int:
    """``--port``: an int in 1..65535 (a larger one would wrap around modulo 65536)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port number in 1..65535, got {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port number in 1..65535, got {text!r}")
    return port


def _listen(host: str, port: int):
    """A listening socket on host:port, or a one-line error (port in use, unknown host...)."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as err:
        raise ValueError(f"cannot listen on --host {host} --port {port}: {err.strerror or err}") from None


LOG_LEVELS = ["critical", "error", "warning", "info", "debug", "trace"]


def _limits(args: argparse.Namespace) -> dict:
    """create_app's bounds on work in flight, from ``serve``'s flags (checked against each other)."""
    max_memory = int(args.max_memory_mib * (1 << 20))
    if args.max_body_mib * (1 << 20) > max_memory:
        raise ValueError(
            f"--max-body-mib ({args.max_body_mib:g}) must not exceed --max-memory-mib ({args.max_memory_mib:g})"
        )
    return {"max_memory": max_memory, "max_items": args.max_items, "body_timeout": args.body_timeout}


def cmd_serve(args) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from ..codec.service import Registry, create_app, workers
    from ..codec.service.server import server_options

    if not 0 < args.max_body_mib <= 1024:
        raise ValueError(f"--max-body-mib must be in (0, 1024], got {args.max_body_mib}")
    if not 0 < args.max_output_mib <= 4096:
        raise ValueError(f"--max-output-mib must be in (0, 4096], got {args.max_output_mib}")
    args.model = args.model or _shipped_dirs()
    for d in args.model:
        if not Path(d).is_dir():
            raise FileNotFoundError(f"--model {d}: no such codec directory")
    # load and self-test every model now: a bad one is one line here, not a traceback from the app's lifespan
    registry = Registry.from_dirs(args.model)
    # create_app's settings: given to it here, or through the environment to each worker (--workers)
    options: dict[str, Any] = {
        "max_body": int(args.max_body_mib * (1 << 20)),
        "max_output": int(args.max_output_mib * (1 << 20)),
        "batching": not args.no_batching,
        "tile": args.tile,
        **_limits(args),
    }
    limits = server_options(args.header_timeout, args.max_connections)
    sock = _listen(args.host, args.port)
    log_level = args.log_level or ("warning" if args.quiet else "info")
    host = f"[{args.host}]" if ":" in args.host else args.host
    say(
        f"aekit serve: {len(registry.codecs) + len(registry.photos)} model(s) on http://{host}:{args.port} "
        f"(API reference: http://{host}:{args.port}/docs), {args.workers} worker(s); Ctrl+C stops"
    )
    try:
        if args.workers > 1:  # uvicorn starts each worker from an import string; the models load in each
            config = workers.config(
                args.model,
                options,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level=log_level,
                **limits,
            )
            Multiprocess(config, sockets=[sock]).run()
        else:
            app = create_app([*registry.codecs.values(), *registry.photos.values()], **options)
            config = uvicorn.Config(
                app, host=args.host, port=args.port, log_level=log_level, access_log=True, **limits
            )
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from ..codec.client import send
    from ..codec.device import DeviceEncoder
    from ..codec.device_hyper import HyperDeviceEncoder
    from ..codec.device_photo import PhotoDeviceEncoder
    from ..codec.items import read_items
    from ..codec.media import NPY, PNG
    from ..codec.pretrained import FAMILIES

    shipped = args.model is None or args.model in FAMILIES
    encoder = DeviceEncoder(_shipped_dir(args.quality, args.model or "factorized") if shipped else args.model)
    if isinstance(encoder, (PhotoDeviceEncoder, HyperDeviceEncoder)):  # a photo: one stream, one request each
        return _send_photos(args, encoder)
    X = np.concatenate([read_items(p, encoder.input_shape, encoder.image_shape) for p in args.images])
    data = encoder.compress(X)
    out = args.out or answer_path(args.images[0] if len(args.images) == 1 else "answer", ".npy")
    answer = send(
        data, args.server, accept=PNG if out.lower().endswith(".png") else NPY, timeout=args.timeout
    )
    with atomic_path(out) as tmp:
        tmp.write_bytes(answer)
    say(
        f"sent {len(X)} items in {len(data)} bytes ({len(data) / len(X):.2f} bytes/item); "
        f"received {len(answer)} bytes -> {out}"
    )
    return 0


def answer_path(name: str, suffix: str) -> str:
    """Where ``send`` keeps an answer without --out: NAME-decoded.SUFFIX in the current directory,
    numbered (NAME-decoded-2.SUFFIX, ...) rather than replacing a file that is there."""
    stem = Path(name).stem
    path = Path(f"{stem}-decoded{suffix}")
    n = 1
    while path.exists():
        n += 1
        path = Path(f"{stem}-decoded-{n}{suffix}")
    return str(path)


# ---------------------------------------------------------------------- files
def _write_output(out: str, X: np.ndarray, image_shape) -> None:
    if out.lower().endswith(".png"):
        if image_shape is None:
            raise ValueError("this codec's items are not images: write .npy")
        from ..codec.images import png_bytes

        with atomic_path(out) as tmp:
            tmp.write_bytes(png_bytes(X, image_shape))
    else:
        write_array(out, X)


# ---------------------------------------------------------------------- photos
def _add_photo_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quality",
        type=int,
        default=None,
        help="a photo: the shipped codec of this quality (1 = smallest files; `aekit codec models`; default 2)",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="factorized|hyperprior|DIR",
        help="a photo: the shipped family (factorized, the default, or hyperprior), or a photo codec directory",
    )
    add_tile_argument(p)


def tile_size(text: str) -> int:
    """``--tile``: 0 or a multiple of 16 pixels, at least 32."""
    try:
        return check_tile(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 0 (no tiling) or a multiple of 16 pixels, at least 32; got {text!r}"
        ) from None


def add_tile_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tile",
        type=tile_size,
        default=DEFAULT_TILE,
        metavar="PX",
        help="photos with a side above PX pixels run g_a / g_s by PX-pixel tiles with context: "
        "bounded memory, the same stream and pixels (0: the whole photo at once)",
    )


def _shipped_dir(quality: int | None, model: str = "factorized") -> Path:
    from ..codec import pretrained

    return pretrained.model_dir(pretrained.DEFAULT_QUALITY if quality is None else quality, model)


def _shipped_dirs() -> list[str]:
    from ..codec import pretrained

    dirs = [str(pretrained.ROOT / m["name"]) for m in pretrained.models()]
    if not dirs:
        raise ValueError("no --model given and no photo codec is shipped with this aekit")
    return dirs


def cmd_models(args: argparse.Namespace) -> int:
    from ..codec import pretrained

    entries = pretrained.models()
    if not entries:
        say("no photo codecs are installed with this aekit")
        return 0
    say(
        f"{'model':<10}  {'quality':>7}  {'name':<13}  {'lambda':>7}  {'Kodak bpp':>9}  {'PSNR dB':>7}  "
        f"{'MS-SSIM':>7}  model id  trained"
    )
    for m in entries:
        kodak = m.get("kodak") or {}
        training = m.get("training") or {}
        cells = [
            f"{kodak[k]:{f}}" if k in kodak else "-"
            for k, f in (("bpp", ".3f"), ("psnr_rgb", ".2f"), ("ms_ssim", ".4f"))
        ]
        say(
            f"{pretrained.family(m):<10}  {m['quality']:>7}  {m['name']:<13}  {m['lmbda']:>7.4f}  {cells[0]:>9}  {cells[1]:>7}  {cells[2]:>7}  "
            f"{m['model_id']:<8}  {training.get('steps', '?')} steps, {training.get('minutes', '?')} min"
        )
    say(f"in {pretrained.ROOT}; trained on BSDS500 photos (research and educational use)")
    return 0


def cmd_train_photo(args: argparse.Namespace) -> int:
    from ..codec.hyperprior import HyperpriorCodec
    from ..codec.photo import PhotoCodec
    from ..codec.photo_training import PhotoSet, train_photo_codec
    from .runs import run_directory

    out = run_directory(args.out, resume=args.resume, overwrite=args.overwrite)
    data = Path(args.data)
    if not data.is_dir():
        raise ValueError(
            f"--model {args.model} trains on a directory of photos: --data {args.data} is not one"
        )
    photos = PhotoSet.from_directory(data, args.channels)
    say(f"decoded {len(photos)} photos from {data} once")
    start = time.perf_counter()
    codec = train_photo_codec(
        {"N": args.N, "M": args.M, "channels": args.channels},
        photos,
        lmbda=args.lmbda,
        steps=args.steps,
        batch_size=8 if args.batch_size is None else args.batch_size,
        crop=args.crop,
        lr=1e-4 if args.lr is None else args.lr,
        checkpoint_dir=out,
        checkpoint_every=60 * args.checkpoint_minutes,
        resume=args.resume,
        time_limit=None if args.minutes is None else 60 * args.minutes,
        device=args.device,
        seed=args.seed,
        log=None if args.quiet else print,
        codec_class=HyperpriorCodec if args.model == "hyperprior" else PhotoCodec,
    )
    seconds = time.perf_counter() - start
    if not is_main():  # under torchrun: rank 0 writes the deployable codec and reports
        return 0
    export = codec.save(out / "export", export=True)  # with its tables: for compress, serve, the device
    step = codec.history["step"][-1] if codec.history and codec.history["step"] else 0
    say(
        f"trained photo codec {codec.model_id.hex()} to step {step} in {seconds:.0f}s -> {out} "
        f"(resume with --resume); the codec with its tables and ONNX halves -> {export}"
    )
    return 0


def _photo_codec(model: str | None, quality: int | None):
    """--model factorized|hyperprior (a shipped family, with --quality) or DIR (then no --quality)."""
    from ..codec import pretrained
    from ..codec.photo_codecs import load_photo_codec

    if model is None or model in pretrained.FAMILIES:
        return load_photo_codec(_shipped_dir(quality, model or "factorized"))
    if quality is not None:
        raise ValueError(f"--quality picks a shipped codec; --model {model} is a directory: leave one out")
    if not Path(model).is_dir():
        raise FileNotFoundError(
            f"--model {model}: no such photo codec directory (or a shipped family: {', '.join(pretrained.FAMILIES)})"
        )
    return load_photo_codec(model)


def cmd_compress_photo(args: argparse.Namespace) -> int:
    from ..codec import pixels

    codec = _photo_codec(args.model, args.quality)
    image = pixels.read_image(args.model_dir, codec.channels)
    data = codec.compress(image, tile=args.tile)
    with atomic_path(args.out) as tmp:
        tmp.write_bytes(data)
    h, w = image.shape[:2]
    say(f"{args.model_dir}: {w}×{h} -> {len(data)} bytes ({8 * len(data) / (h * w):.4f} bpp) -> {args.out}")
    return 0


def cmd_decompress_photo(args: argparse.Namespace) -> int:
    from ..codec import bitstream, pretrained
    from ..codec.photo_codecs import load_photo_codec

    data = bitstream.read_file(args.model_dir)
    header, _ = bitstream.read_image_header(data)
    if not args.out.lower().endswith(".png"):
        raise ValueError(f"a photo stream decodes to a .png, got --out {args.out}")
    model = args.model or pretrained.find_by_model_id(header.model_id)
    if model is None:
        raise ValueError(
            f"{args.model_dir} was made by model {header.model_id.hex()}, which is not shipped with this "
            "aekit: pass --model DIR"
        )
    image = load_photo_codec(model).decompress(data, tile=args.tile)
    _write_png(args.out, image)
    say(f"{len(data)} bytes -> {header.width}×{header.height} photo -> {args.out}")
    return 0


def _write_png(out: str, image: np.ndarray) -> None:
    from ..codec.pixels import png_bytes

    with atomic_path(out) as tmp:
        tmp.write_bytes(png_bytes(image))


def _send_photos(args: argparse.Namespace, encoder) -> int:
    from ..codec.client import send
    from ..codec.media import PNG

    if (args.out is not None and not args.out.lower().endswith(".png")) or (
        len(args.images) > 1 and args.out
    ):
        raise ValueError(
            "a photo comes back as one PNG: give one photo with --out NAME.png (without --out, "
            "each photo's answer is kept as PHOTO-decoded.png)"
        )
    for name in args.images:
        data = encoder.compress(Path(name), tile=args.tile)
        answer = send(data, args.server, accept=PNG, timeout=args.timeout)
        out = args.out or answer_path(name, ".png")
        with atomic_path(out) as tmp:
            tmp.write_bytes(answer)
        say(f"sent {name} in {len(data)} bytes; received a {len(answer)}-byte PNG -> {out}")
    return 0
