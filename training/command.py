"""What the training commands share: one-line errors and help that shows every default.

`namegen train|evaluate|sweep` and `python -m training.<command>` run the same `main(argv, prog)`; a
problem with the user's input is one line on stderr in the `namegen` CLI's style, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_MODEL = Path("model_artifacts/names-mlp.pt")  # the shipped model, relative to the repository root
ERROR_PREFIX = "namegen: error: "
EXIT_BAD_INPUT = 2  # the same code as `namegen sample|score` for bad input
EXIT_FAILED = 1  # the input was fine but the run did not produce a usable result


class CommandError(Exception):
    """A one-line reason a training command cannot go on, with the exit status to leave with."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"{ERROR_PREFIX}{message}", file=sys.stderr)
    return code


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The module docstring kept as written, and each option's default appended to its help.

    Unlike argparse.ArgumentDefaultsHelpFormatter, options without a value of their own (None, False) say
    nothing: their help text explains what happens instead.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default: Any = action.default
        shown = action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)
        if "%(default)" in text or default in (None, False, argparse.SUPPRESS) or default == [] or not shown:
            return text
        return f"{text} (default: %(default)s)"
