"""The README's command-line examples run in order, in one fresh directory, as a new user would type them.

Every line starting with ``aekit `` of the README's shell blocks runs through ``aekit.cli.main``, in
README order: on the embedded digits as written (the epochs capped); where a line names MNIST, only
when ``../shared/data/mnist`` exists, with one epoch and ``--data-root`` pointed at its first 2,000
training and 1,000 test images (the whole of it costs minutes an epoch on 2 busy cores). A line that reads what a skipped line
would have written is skipped with it. No line may overwrite a file an earlier line wrote, and no
training line may write into a folder a Python block of the README writes.
"""

import re
import shlex
import time
from pathlib import Path

import numpy as np

from aekit.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MNIST = ROOT.parent / "shared" / "data" / "mnist"
SHARED = ROOT.parent / "shared" / "data"  # the README's ../shared/data/... (ODDS tables), when present

#: commands that need a server or the network: not run (keep this list short).
NEEDS_A_SERVER = ("aekit serve ", "aekit send ")
#: lines that rewrite files an earlier line wrote, on purpose (documented as such in the README).
REWRITES = ("codec export runs/codec-mnist",)
#: the user's own files the README's examples take as input (made here, as the user would have them).
USER_FILES = {
    "noisy1.png": (28, 28),
    "noisy2.png": (28, 28),
    "clean.npy": (4, 28, 28),
    "photo.png": (48, 40, 3),
    "photo.jpg": (48, 40, 3),
}
#: the user's own folders of photos (training data for the denoiser and the photo codec).
USER_FOLDERS = {"train_dir": (3, 80, 72), "photos": (3, 272, 264)}  # (images, height, width); crops of 256
#: the photo lines' budgets: a few steps, a few patches an epoch.
PHOTO_BUDGET = {"--steps": 2, "--patches-per-epoch": 32}
#: a budget for the digits: the demo's 150 epochs alone take most of a minute on 2 busy cores.
DIGITS_EPOCHS = 10
#: the MNIST images the examples get (train, test): enough for `codec compress --n 1000`.
MNIST_SUBSET = {"train": 2000, "t10k": 1000}


def readme_commands() -> list[str]:
    """The README's ``aekit`` lines (continuations joined) of its non-Python code blocks, in order."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)
    lines = []
    for language, body in blocks:
        if language not in ("", "bash", "sh"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            if line.startswith("aekit "):
                lines.append(" ".join(line.split()))
    return lines


def python_outputs() -> set[str]:
    """The folders the README's Python blocks write (``save(..., "runs/x")``, ``checkpoint_dir=``)."""
    text = "\n".join(re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S))
    return set(re.findall(r"(?:save\((?:\w+, )?|checkpoint_dir=)\"([^\"]+)\"", text))


def mnist_subset(directory: Path) -> Path:
    """The first images of each split of the shared MNIST, as the four IDX files, in ``directory``."""
    from aekit.data import load_idx, save_idx

    directory.mkdir()
    for prefix, n in MNIST_SUBSET.items():
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            name = f"{prefix}-{kind}.gz"
            save_idx(directory / name, load_idx(MNIST / name)[:n])
    return directory


def budget(argv: list[str], mnist: bool, root: Path | None = None) -> list[str]:
    """``argv`` with ``--data-root`` pointed at ``root`` and the epochs cut to the test's budget."""
    epochs = 1 if mnist else DIGITS_EPOCHS
    argv = list(argv)
    for flag, cap in (("--epochs", epochs), ("--pretrain-epochs", 1 if mnist else 2)):
        if flag in argv:
            i = argv.index(flag) + 1
            argv[i] = str(min(int(argv[i]), cap))
        elif flag == "--epochs" and _trains(argv):
            argv += [flag, str(epochs)]
    for flag, cap in PHOTO_BUDGET.items():
        if flag in argv:
            argv[argv.index(flag) + 1] = str(min(int(argv[argv.index(flag) + 1]), cap))
        elif flag == "--patches-per-epoch" and "--patch" in argv:
            argv += [flag, str(cap)]
    if "--data-root" in argv:
        argv[argv.index("--data-root") + 1] = str(root)
    return [
        str(SHARED / a.removeprefix("../shared/data/")) if a.startswith("../shared/data/") else a
        for a in argv
    ]


def _trains(argv: list[str]) -> bool:
    return argv[:1] in (["train"], ["map"], ["demo"]) or argv[:2] == ["codec", "train"]


def _outputs(argv: list[str]) -> list[str]:
    """What a line writes: its --out and --save (files or folders)."""
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--save")]


def _snapshot(directory: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()}


def _user_files(directory: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, shape in USER_FILES.items():
        pixels = rng.random(shape).astype(np.float32)
        if name.endswith((".png", ".jpg")):
            Image.fromarray((pixels * 255).astype(np.uint8)).save(directory / name)
        else:
            np.save(directory / name, pixels)
    for folder, (n, h, w) in USER_FOLDERS.items():
        (directory / folder).mkdir()
        for i in range(n):
            gradient = np.linspace(0, 255, h * w * 3).reshape(h, w, 3) * rng.random()
            Image.fromarray(gradient.astype(np.uint8)).save(directory / folder / f"{i}.png")


def test_the_readme_names_its_commands():
    lines = readme_commands()
    assert len(lines) >= 15, lines
    skipped = [line for line in lines if line.startswith(NEEDS_A_SERVER)]
    assert len(skipped) == 4, skipped  # serve and send, for the digit codec and the photo codec
    for line in lines:
        if "--data mnist" in line:
            assert "--data-root ../shared/data/mnist" in line, f"no --data-root: {line}"


def test_no_cli_example_trains_into_a_folder_a_python_block_writes():
    written_by_python = python_outputs()
    assert {"runs/dae", "runs/codec"} <= written_by_python  # the quick start's, the codec's
    for line in readme_commands():
        argv = shlex.split(line, comments=True)[1:]
        if _trains(argv):
            assert not set(_outputs(argv)) & written_by_python, line


def test_the_readme_cli_examples_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "no-data"))  # nothing found unless --data-root says
    _user_files(tmp_path)
    root = mnist_subset(tmp_path / "mnist") if MNIST.is_dir() else None
    skipped_outputs: list[str] = []
    ran = 0
    for line in readme_commands():
        argv = shlex.split(line, comments=True)[1:]
        mnist = "mnist" in argv
        reads_skipped = any(a == s or a.startswith(s + "/") for s in skipped_outputs for a in argv)
        shared = any(a.startswith("../shared/data/") for a in argv) and not SHARED.is_dir()
        if line.startswith(NEEDS_A_SERVER) or (mnist and not MNIST.is_dir()) or reads_skipped or shared:
            skipped_outputs += _outputs(argv)
            continue
        before, start = _snapshot(tmp_path), time.perf_counter()
        assert main(["-q", *budget(argv, mnist, root)]) == 0, line
        print(f"{time.perf_counter() - start:6.1f} s  {' '.join(budget(argv, mnist, root))}")
        changed = [p for p, t in _snapshot(tmp_path).items() if p in before and before[p] != t]
        if " ".join(argv) not in REWRITES and "--resume" not in argv:  # a resumed run rewrites its own files
            assert not changed, f"{line} overwrote {changed}"
        ran += 1
    assert ran >= (15 if MNIST.is_dir() else 6), ran
