"""Training the photo codec on random crops: L = λ·255²·MSE + bpp (Ballé et al., ICLR 2017).

The photos of a directory are decoded once into memory as uint8 (:class:`PhotoSet`); each
step draws a batch of random ``crop``×``crop`` windows with random horizontal and vertical
flips (from a generator seeded by ``(seed, step)``, so a resumed run draws the same crops),
and takes one Adam step on the loss of :meth:`aekit.codec.PhotoCodec.loss` (uniform noise for
the rate, straight-through rounding for the decoder). Progress is logged every
``log_every`` steps; every ``checkpoint_every`` seconds the weights, Adam's moments, the
random-number states and the history are written with aekit's training-state format
(:func:`aekit.io.write_training_state`, the one the fit loop uses, the step in place of
the epoch), and a run given the same ``checkpoint_dir`` resumes from it. At the end the
densities are tabulated (:meth:`~aekit.codec.PhotoCodec.update`). Under ``torchrun`` each rank
draws its share of the global batch (its own crops) and DistributedDataParallel averages the
gradients (:mod:`aekit.train.parallel`); rank 0's clock decides checkpoints and stops, rank 0 writes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .. import io
from ..errors import DataError, TrainingError
from ..train import distributed as dist_
from ..train.loop import default_device
from ..train.memory import keep_freed_memory
from ..train.parallel import join, objective
from ..train.resume import capture_rng, restore_rng
from . import pixels
from .hyperprior import HyperpriorCodec
from .model import check_lmbda
from .photo import PhotoCodec

__all__ = ["PhotoSet", "photo_files", "train_photo_codec", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")
MAX_PHOTOS = 1 << 16


class PhotoSet:
    """Photos decoded once into memory as uint8 (H, W, C) arrays, and random crops of them.

    Parameters
    ----------
    images : sequence of uint8 arrays (H, W, C)
        The photos; one smaller than ``crop`` on a side is edge-padded to it when cropped.
    """

    def __init__(self, images: Sequence[np.ndarray]):
        if not images:
            raise DataError("no photos to train on")
        channels = {int(im.shape[2]) for im in images if im.ndim == 3}
        if len(channels) != 1 or any(im.ndim != 3 or im.dtype != np.uint8 for im in images):
            raise DataError("photos must all be uint8 (H, W, C) arrays with the same number of channels")
        self.images = list(images)
        self.channels = channels.pop()

    @classmethod
    def from_directory(
        cls, directory: str | os.PathLike, channels: int = 3, *, limit: int | None = None
    ) -> PhotoSet:
        """Decode every image file of ``directory`` (sorted by name; ``limit`` of them) once."""
        return cls([pixels.read_image(p, channels) for p in photo_files(directory, limit=limit)])

    def __len__(self) -> int:
        return len(self.images)

    def crops(self, batch_size: int, crop: int, rng: np.random.Generator) -> np.ndarray:
        """``batch_size`` random crop×crop windows, randomly flipped, as uint8 (B, C, crop, crop)."""
        out = np.empty((batch_size, crop, crop, self.channels), dtype=np.uint8)
        for b, i in enumerate(rng.integers(len(self.images), size=batch_size)):
            image = self.images[i]
            h, w = image.shape[:2]
            if h < crop or w < crop:
                image = np.pad(image, ((0, max(0, crop - h)), (0, max(0, crop - w)), (0, 0)), mode="edge")
                h, w = image.shape[:2]
            top, left = rng.integers(h - crop + 1), rng.integers(w - crop + 1)
            window = image[top : top + crop, left : left + crop]
            if rng.random() < 0.5:
                window = window[:, ::-1]
            if rng.random() < 0.5:
                window = window[::-1]
            out[b] = window
        return out.transpose(0, 3, 1, 2)


def photo_files(directory: str | os.PathLike, *, limit: int | None = None) -> list[Path]:
    """The image files of ``directory``, sorted by name (at most ``limit``, and :data:`MAX_PHOTOS`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory of photos")
    names = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:MAX_PHOTOS]
    if limit is not None:
        names = names[:limit]
    if not names:
        raise DataError(f"{directory} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    return names


def train_photo_codec(
    model: PhotoCodec | HyperpriorCodec | dict | None,
    data: PhotoSet | str | os.PathLike,
    *,
    lmbda: float | None = None,
    steps: int = 1000,
    batch_size: int = 8,
    crop: int = 256,
    lr: float = 1e-4,
    clip_grad: float = 1.0,
    prior_lr_factor: float = 10.0,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: float = 300.0,
    resume: bool = True,
    time_limit: float | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    log_every: int = 50,
    log: Callable[[str], None] | None = print,
    codec_class: type[PhotoCodec] | type[HyperpriorCodec] = PhotoCodec,
    keep_memory: bool = True,
) -> PhotoCodec | HyperpriorCodec:
    """Train a photo codec for ``steps`` Adam steps (in all, a resumed run counting its earlier ones).

    Parameters
    ----------
    model : PhotoCodec, dict or None
        The codec, or the arguments of a new one (``{"N": 64, "M": 96}``; channels from the data).
        With ``checkpoint_dir`` holding a run and ``resume``, the run's codec is continued instead.
    data : PhotoSet or directory
        The photos (a directory is decoded once, here).
    lmbda : float, optional
        λ of L = λ·255²·MSE + bpp; sets the codec's.
    steps, batch_size, crop, lr, clip_grad
        Adam steps in all, crops per step, crop side, learning rate, gradient-norm clip (0: none).
    prior_lr_factor : float
        The entropy model learns at ``lr · prior_lr_factor``: its densities start at scale 1 while the
        code's channels spread far less, and at ``lr`` they take thousands of steps to narrow (the rate
        then falls slowly; a role like CompressAI's auxiliary optimizer's).
    checkpoint_dir : path, optional
        Where the run is checkpointed every ``checkpoint_every`` seconds and at the end.
    resume : bool
        Continue the run in ``checkpoint_dir`` if there is one.
    time_limit : float, optional
        Stop (checkpointed) after this many seconds of this call.
    device : str or torch.device, optional
        Default: CUDA when present, else the CPU.
    seed : int
        Seeds the crops (per step) and, for a new run, torch's generator (the noise u).
    log_every : int
        Steps between progress lines given to ``log`` (None: silent).
    codec_class : PhotoCodec or HyperpriorCodec
        What a dict of arguments (or a run to resume) builds: the factorized or the hyperprior codec.
    keep_memory : bool
        On the CPU, make the C library keep freed memory for the next step
        (:func:`aekit.train.memory.keep_freed_memory`: glibc only, for the whole process, which then
        keeps its peak memory; elsewhere nothing changes): a step without page faults on its
        large tensors, about 1.5× faster at batch 8, crops 256² on one thread. The loss is the same.

    Returns
    -------
    PhotoCodec
        In eval mode with its tables (``update()`` done) and ``history``.
    """
    if lmbda is not None:
        check_lmbda(lmbda)
    for name, value, low in (
        ("steps", steps, 0),
        ("batch_size", batch_size, 1),
        ("crop", crop, pixels.STRIDE),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if crop % pixels.STRIDE:
        raise ValueError(f"crop must be a multiple of {pixels.STRIDE}, got {crop}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    photos = data if isinstance(data, PhotoSet) else PhotoSet.from_directory(data)
    device = torch.device(device) if device is not None else default_device()
    directory = None if checkpoint_dir is None else Path(checkpoint_dir)
    state = None
    if directory is not None and resume and (directory / io.STATE_JSON).is_file():
        state = io.read_training_state(directory)
        if not isinstance(model, (PhotoCodec, HyperpriorCodec)):
            model = codec_class.load(directory)
        else:
            io.load_run_weights(model, directory, state)
    elif not isinstance(model, (PhotoCodec, HyperpriorCodec)):
        torch.manual_seed(seed)
        model = codec_class(**{"channels": photos.channels, **(model or {})})
    codec: PhotoCodec | HyperpriorCodec = model
    if codec.channels != photos.channels:
        raise DataError(f"the codec codes {codec.channels} channels, the photos have {photos.channels}")
    if lmbda is not None:
        codec.lmbda = float(lmbda)
    codec.clear_tables()
    if keep_memory and device.type == "cpu":
        keep_freed_memory()
    codec.to(device).train()
    ddp = join(None, device)  # under torchrun: one process per GPU (or CPU rank), gradients all-reduced
    rank, world = (dist_.rank(), dist_.world_size()) if ddp else (0, 1)
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} (the global batch) must be a multiple of the {world} ranks"
        )
    log = log if rank == 0 else None
    parts: dict[str, torch.Tensor] = {}

    def batch_loss(model: PhotoCodec | HyperpriorCodec, x: torch.Tensor) -> torch.Tensor:
        parts["mse"], parts["bpp"] = model.rate_distortion(x)
        return model.lmbda * 255**2 * parts["mse"] + parts["bpp"]

    step_loss = objective(codec, batch_loss, device, ddp)
    prior = list(codec.entropy_bottleneck.parameters())
    transforms = [p for p in codec.parameters() if all(p is not q for q in prior)]
    opt = torch.optim.Adam(
        [{"params": transforms, "lr": lr}, {"params": prior, "lr": lr * prior_lr_factor}], lr=lr
    )
    history: dict[str, list] = {"step": [], "loss": [], "bpp": [], "psnr": [], "seconds": []}
    step, elapsed = 0, 0.0
    if state is not None:
        if len(state.optimizer["param_groups"]) == len(opt.param_groups):
            opt.load_state_dict(state.optimizer)
        elif log:  # a run checkpointed before the entropy model had a group of its own
            log(f"{directory}: the optimizer state has another layout: Adam's moments start afresh")
        for group, factor in zip(opt.param_groups, (1.0, prior_lr_factor)):
            group["lr"] = lr * factor
        restore_rng(state.rng, device, rank)
        history = {k: list(state.history.get(k, [])) for k in history}
        step = state.epoch
        elapsed = float(state.settings.get("seconds", 0.0))
        if log:
            log(f"resumed {directory} at step {step} ({elapsed / 60:.1f} min trained)")
    start = last_save = time.monotonic()
    sums = np.zeros(3)
    count = 0
    while step < steps:
        stop = time_limit is not None and time.monotonic() - start >= time_limit
        save = directory is not None and time.monotonic() - last_save >= checkpoint_every
        if ddp:  # rank 0's clock decides for all, so every rank takes the same steps and checkpoints
            flags = dist_.broadcast_int(2 * stop + save)
            stop, save = bool(flags & 2), bool(flags & 1)
        if save and directory is not None:
            _checkpoint(
                directory, codec, opt, device, step, history, elapsed + time.monotonic() - start, ddp, rank
            )
            last_save = time.monotonic()
        if stop:
            break
        rng = np.random.default_rng([seed, step] if world == 1 else [seed, step, rank])
        batch = photos.crops(batch_size // world, crop, rng)
        x = torch.from_numpy(batch).to(device, non_blocking=True).float().div_(255)
        loss = step_loss(x)
        mse, bpp = parts["mse"], parts["bpp"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad:
            torch.nn.utils.clip_grad_norm_(codec.parameters(), clip_grad)
        opt.step()
        step += 1
        sums += (loss.item(), bpp.item(), mse.item())
        count += 1
        if not math.isfinite(sums[0]):
            raise TrainingError(f"the loss is {sums[0]} at step {step}: lower lr (now {lr})")
        if step % max(1, log_every) == 0 or step == steps:
            seconds = elapsed + time.monotonic() - start
            loss_m, bpp_m, mse_m = sums / count
            psnr = 10 * math.log10(1 / max(mse_m, 1e-12))
            for key, value in zip(history, (step, loss_m, bpp_m, psnr, seconds)):
                history[key].append(round(float(value), 6))
            if log:
                log(
                    f"step {step}/{steps}  loss {loss_m:.4f}  bpp {bpp_m:.4f}  PSNR {psnr:.2f} dB  "
                    f"{seconds / 60:.1f} min"
                )
            sums[:] = 0
            count = 0
    if directory is not None:
        _checkpoint(
            directory, codec, opt, device, step, history, elapsed + time.monotonic() - start, ddp, rank
        )
    codec.history = history
    return codec.update().eval()


def _checkpoint(
    directory: Path,
    codec: PhotoCodec | HyperpriorCodec,
    opt: torch.optim.Optimizer,
    device: torch.device,
    step: int,
    history: dict,
    seconds: float,
    ddp: bool = False,
    rank: int = 0,
) -> None:
    """Weights, Adam's moments, the RNG states (every rank's) and the history after ``step``, written
    by rank 0 in one transaction."""
    rng = capture_rng(device, ddp)  # a collective under DDP: every rank takes part
    if rank != 0:
        dist_.barrier()
        return
    state = io.TrainingState(
        epoch=step,
        history=history,
        optimizer=opt.state_dict(),
        rng=rng,
        settings={"lmbda": codec.lmbda, "quantizer": codec.quantizer, "seconds": round(seconds, 3)},
    )
    directory.mkdir(parents=True, exist_ok=True)
    io.write_training_state(directory, codec, state)
    if ddp:
        dist_.barrier()
