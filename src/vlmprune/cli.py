"""What every workflow script shares: logging to the job log and clean failures on bad input."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

USER_ERRORS: tuple[type[BaseException], ...] = (KeyError, ValueError, FileNotFoundError)


def run_main(main: Callable[[], None]) -> None:
    """Run ``main``; a user error prints one ``error:`` line and exits 2 instead of a traceback."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        main()
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
