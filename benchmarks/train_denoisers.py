"""Train the shipped photo denoisers and copy them into the package.

    python benchmarks/train_denoisers.py commands          # the training commands (run them with nohup)
    python benchmarks/train_denoisers.py ship RUN NAME --floor DB

``commands`` prints the exact ``aekit train`` lines that trained the shipped
grayscale and colour blind denoisers (add ``--resume`` to continue a run from its
checkpoint, which holds the weights and the optimizer state). ``ship`` copies a
run's checkpoint (config.json + model.safetensors) to
``src/aekit/pretrained/denoise/NAME/`` with a ``card.json``: what it is, how and how
long it trained, and the PSNR gain floor its test checks.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/data")
PACKAGE = ROOT / "src" / "aekit" / "pretrained" / "denoise"

#: name -> (training folder, checkpoint directory, description)
MODELS = {
    "gray-blind": (
        DATA / "denoise" / "train400",
        "benchmarks/checkpoints/denoise-gray-blind",
        "grayscale blind Gaussian denoiser (sigma 0-55 on 0-255), trained on Train400",
    ),
    "color-blind": (
        DATA / "photos" / "train",
        "benchmarks/checkpoints/denoise-color-blind",
        "colour blind Gaussian denoiser (sigma 0-55 on 0-255), trained on 432 BSDS500 photos (no CBSD68)",
    ),
}
TRAIN_OPTIONS = "--patch 64 --sigma-range 0,55 --batch-size 16 --patches-per-epoch 4096 --epochs 1000 --lr 1e-3 --seed 0 -q"


def command(name: str, lr: float = 1e-3, epochs: int = 1000, resume: bool = False) -> str:
    """The command line that trains ``name`` (from the repository root, OMP_NUM_THREADS=1 in the background);
    ``resume``: continue the run from its checkpoint (weights and optimizer state), e.g. at a lower ``lr``."""
    data, out, _ = MODELS[name]
    options = TRAIN_OPTIONS.replace("--lr 1e-3", f"--lr {lr:g}").replace(
        "--epochs 1000", f"--epochs {epochs}"
    )
    return (
        f"OMP_NUM_THREADS=1 PYTHONPATH=src nohup python -m aekit train --model cae --data {data} "
        f"{options}{' --resume' if resume else ''} --out {out} > {Path(out).name}.log 2>&1 &"
    )


#: name -> the learning-rate schedule each shipped run followed: (lr, last epoch at that lr), in order;
#: each segment after the first resumed the run from its checkpoint (weights and Adam's state)
SCHEDULES = {
    "gray-blind": [(1e-3, 11), (1e-4, 20), (1e-3, 33), (1e-4, 35)],
    "color-blind": [(1e-3, 10), (1e-4, 12), (1e-3, 24), (1e-4, 26), (1e-3, 36), (1e-4, 38)],
}


def commands(name: str, epochs: int | None = None) -> list[str]:
    """The run as it was made, segment by segment of :data:`SCHEDULES` up to ``epochs``: the first from
    scratch (``--epochs 1000``, stopped by hand), the others resumed with ``--epochs`` = their last epoch."""
    lines = []
    for i, (lr, last) in enumerate(SCHEDULES[name]):
        if epochs is not None and last > epochs:
            break
        if i == 0:
            lines += [command(name, lr), f"# stopped after epoch {last}"]
        else:
            lines.append(command(name, lr, last, resume=True))
    return lines


def ship(run: Path, name: str, floor: float) -> Path:
    """Copy the checkpoint in ``run`` to the package as ``name`` with its card; return the folder."""
    config = json.loads((run / "config.json").read_text())
    state = json.loads((run / "training_state.json").read_text())
    history = state["history"]
    target = PACKAGE / name
    target.mkdir(parents=True, exist_ok=True)
    for file in ("config.json", "model.safetensors"):
        shutil.copyfile(run / file, target / file)
    args = config["args"]
    card = {
        "name": name,
        "description": MODELS[name][2] if name in MODELS else name,
        "channels": args["in_channels"],
        "sigma_range": args["sigma_range"],
        "training": {
            "commands": commands(name, state["epoch"]) if name in MODELS else None,
            "epochs": state["epoch"],
            "patches": state["epoch"] * 4096,
            "train_seconds": round(sum(history["seconds"]), 1),
            "last_train_loss": history["train_loss"][-1],
            "machine": f"CPU ({platform.machine()}), 2 cores shared with other jobs, OMP_NUM_THREADS=1",
        },
        "test_floor_gain_db": floor,
    }
    (target / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("commands", help="print the training commands")
    p = sub.add_parser("ship", help="copy a run's checkpoint into the package")
    p.add_argument("run", type=Path)
    p.add_argument("name")
    p.add_argument(
        "--floor", type=float, required=True, help="PSNR gain floor (dB) of the shipped-model test"
    )
    args = parser.parse_args()
    if args.action == "commands":
        for name in MODELS:
            print("\n".join(commands(name)))
    else:
        print(ship(args.run, args.name, args.floor))


if __name__ == "__main__":
    main()
