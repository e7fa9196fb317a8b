"""The library's error messages in the command line's words: one table from Python names to flags.

The CLI checks what it can before the library runs (argparse types, :func:`aekit.cli.core.check_fit_options`);
the errors only the library can detect (a bound that depends on the data, a file that is missing) speak
of keyword arguments (``batch_size``, ``download=True``). :func:`in_cli_words` rewrites those names into
the flags a user typed, so that the library keeps its own words for Python users.
"""

from __future__ import annotations

import functools
import re

#: keyword argument of the library -> the flag that sets it on the command line.
FLAGS: dict[str, str] = {
    "batch_size": "--batch-size",
    "epochs": "--epochs",
    "lr": "--lr",
    "lr_schedule": "--lr-schedule",
    "momentum": "--momentum",
    "weight_decay": "--weight-decay",
    "patience": "--patience",
    "optimizer": "--optimizer",
    "k": "--k",
    "trust_samples": "--trust-samples",
    "download": "--download",
    "root": "--data-root",
}

#: phrases of the library (or of torch) that name a Python argument, as regular expressions ->
#: their command-line form; ``{flag}`` is the FLAGS entry of the name the expression captures.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"^(?P<name>\w+)(?= must be | \()", "{flag}"),  # "batch_size must be an int >= 1, got 0"
    (r"^Invalid (?P<name>momentum|weight_decay) value: (?P<value>.+)$", "{flag} must be >= 0, got {value}"),
    (r"\b(?P<name>download)=True\b", "{flag}"),  # "pass download=True to fetch them"
    (r"\b(?P<name>root)=(?=DIR\b)", "{flag} "),  # "or root=DIR"
    (r"\bpass X_val\b", "give --val-fraction > 0"),
    (r"\bsize=\((?P<value>\d+), (?P<width>\d+)\)", "--size {value}x{width}"),  # "size=(28, 28) resizes ..."
    (r"\bsize=\(height, width\)", "--size HEIGHTxWIDTH"),  # "give size=(height, width) to resize them all"
    (r"\bmode='(?P<value>\w+)'", "--mode {value}"),  # "patience (early stopping) needs validation data"
)


def in_cli_words(message: str) -> str:
    """``message`` with each Python argument it names replaced by its flag (see :data:`FLAGS`)."""
    for pattern, words in _PHRASES:
        message = re.sub(pattern, functools.partial(_words, words=words), message)
    return message


def _words(match: re.Match[str], words: str) -> str:
    groups = match.groupdict()
    name = groups.get("name")
    if name is not None and name not in FLAGS:
        return match.group(0)
    return words.format(flag=FLAGS.get(name or "", ""), **{"value": "", **groups})
