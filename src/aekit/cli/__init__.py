"""The ``aekit`` command line: thin sub-commands over the library.

Each area has a module here with a ``register(subparsers)`` function; the
command functions take the parsed ``argparse.Namespace`` and return an exit
code. User errors print one line (``aekit: error: ...``) and exit with code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import logging
import os
import re
import sys
from typing import Any, NoReturn

from .._version import __version__
from ..errors import AekitError
from .common import UsageError
from .messages import in_cli_words

# Modules of aekit.cli that add sub-commands, in --help order.
COMMAND_MODULES = ("core", "stacked", "predict", "conv", "viz", "codec", "outliers")

# OSError covers FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError, a too-long name...
USER_ERRORS = (AekitError, ValueError, OSError)


GLOBAL_FLAGS = ("--debug", "-q", "--quiet")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default, unless its text already speaks of one or it has none."""

    def _format_action(self, action: argparse.Action) -> str:
        if self._shows_default(action):
            action = copy.copy(action)
            action.help = f"{action.help} (default: %(default)s)" if action.help else "default: %(default)s"
        return super()._format_action(action)

    @staticmethod
    def _shows_default(action: argparse.Action) -> bool:
        return (
            bool(action.option_strings)
            and "default" not in (action.help or "")
            and action.nargs != 0
            and action.default is not None
            and action.default is not False
            and action.default != argparse.SUPPRESS
        )


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line and exit code 2, never a usage dump; help shows defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # "argument --hidden: '256,,64' has an empty size ..." -> "--hidden: ..."
        message = re.sub(r"^argument ", "", message)
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="aekit",
        description="Autoencoders from the notes: train, evaluate, encode, denoise, compress and serve.",
    )
    parser.add_argument("--version", action="version", version=f"aekit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-epoch log lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``aekit`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    # the global flags work anywhere on the line: `aekit demo -q` as well as `aekit -q demo`
    flags = [a for a in argv if a in GLOBAL_FLAGS]
    argv = flags + [a for a in argv if a not in GLOBAL_FLAGS]
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if not args.quiet:
            logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
        return int(args.func(args) or 0)
    except UsageError as err:
        _error(str(err))
        return 2
    except USER_ERRORS as err:
        if debug:
            raise
        _error(_message(err))
        return 2
    except KeyboardInterrupt:
        print("aekit: interrupted", file=sys.stderr)
        return 130
    finally:
        _discard_staged_runs()


def _error(message: str) -> None:
    """Print ``aekit: error: message``; under torchrun only rank 0 does, so that an error every rank
    meets is said once."""
    if os.environ.get("RANK", "0") == "0":
        print(f"aekit: error: {message}", file=sys.stderr)


def _discard_staged_runs() -> None:
    """Remove the new run of a command that did not finish it; the run it was to replace stays whole."""
    runs = sys.modules.get("aekit.cli.runs")  # imported by the commands that write a run (with torch)
    if runs is not None:
        runs.discard_staged()


def _message(err: Exception) -> str:
    """The one-line text of a user error; an OS error names the user's path, not a temporary file beside it."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        # os.replace(tmp, path) names both: the second is the path the user gave
        name = str(err.filename2 if err.filename2 is not None else err.filename)
        temporary = re.fullmatch(r"(.*/)?\.(.+)\.\w{8}\.tmp", name)  # io.atomic_path's .NAME.XXXXXXXX.tmp
        if temporary:
            name = (temporary.group(1) or "") + temporary.group(2)
        return f"{err.strerror}: {name}"
    return in_cli_words(one_line(str(err)))


def one_line(text: str) -> str:
    """A message of several lines as one: an indented list after ``...:`` becomes ``a, b``; the next
    sentence follows after ``;``."""
    out, listing = "", False
    for line in text.splitlines():
        item, line = line.startswith((" ", "\t")), line.strip()
        if not line:
            continue
        if not out or out.endswith(":"):
            out += (" " if out else "") + line
        elif item and listing:
            out += ", " + line
        else:
            out += "; " + line[:1].lower() + line[1:]
        listing = item
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
