"""What every workflow script shares: logging to the job log and clean failures on bad input."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable

USER_ERRORS: tuple[type[BaseException], ...] = (KeyError, ValueError, FileNotFoundError)


def run_main(main: Callable[[], None]) -> None:
    """Run ``main``; a user error prints one ``error:`` line and exits 2 instead of a traceback."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        main()
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        if getattr(error, "exit_at_once", False):  # see vlmprune.errors.StoreWriteError
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(2)
        sys.exit(2)


def evaluation_parser(
    description: str | None, *, data_help: str, split: bool = True
) -> argparse.ArgumentParser:
    """A parser with the arguments every evaluating script takes; ``--model`` and ``--evaluation`` are parsed JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, help=data_help)
    parser.add_argument("--dataset", required=True)
    if split:
        parser.add_argument("--split", required=True)
    parser.add_argument(
        "--model",
        required=True,
        type=json.loads,
        help="the model settings the rule passes, as JSON",
    )
    parser.add_argument(
        "--evaluation",
        required=True,
        type=json.loads,
        help="this dataset's evaluation settings, as JSON",
    )
    return parser
