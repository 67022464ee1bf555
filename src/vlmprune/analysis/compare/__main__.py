"""Deprecated: ``python -m vlmprune.analysis.compare`` is ``vlmprune compare``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from vlmprune.cli import run_old_entry_point


def main(argv: Sequence[str] | None = None) -> int:
    return run_old_entry_point("python -m vlmprune.analysis.compare", ["compare"], argv)


if __name__ == "__main__":
    sys.exit(main())
