"""`aekit --help`, `--version` and every sub-command's `--help` start without torch, scikit-learn or matplotlib."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import aekit
from aekit.cli import build_parser, choices

HEAVY = ("torch", "sklearn", "matplotlib")


def _commands(parser, prefix=()) -> list[tuple[str, ...]]:
    """Every sub-command path of the parser: ("train",), ("codec", "train"), ..."""
    found = []
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        for name, sub in action.choices.items():
            found.append((*prefix, name))
            found += _commands(sub, (*prefix, name))
    return found


COMMANDS = _commands(build_parser())
ARGVS = [["--help"], ["--version"], *[[*c, "--help"] for c in COMMANDS]]


def test_the_list_covers_every_command():
    assert {("train",), ("denoise",), ("map",), ("codec", "train"), ("send",)} <= set(COMMANDS)


@pytest.mark.parametrize("argv", ARGVS, ids=" ".join)
def test_help_imports_no_heavy_module(argv):
    code = (
        "import sys; from aekit.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    src = str(Path(aekit.__file__).parents[1])  # this checkout's package, whatever is installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-500:]


def test_the_torch_free_choices_are_the_library_registries():
    from aekit.nn.activations import ACTIVATIONS
    from aekit.nn.conv import BLOCKS
    from aekit.nn.pooling import UNPOOL_MODES

    assert set(choices.ACTIVATION_NAMES) == set(ACTIVATIONS)
    assert tuple(choices.CONV_BLOCKS) == tuple(BLOCKS)
    assert tuple(choices.UNPOOL_NAMES) == tuple(UNPOOL_MODES)
