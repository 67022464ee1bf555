"""Deprecated: ``python -m vlmprune.bench NAME`` is ``vlmprune bench NAME``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from vlmprune.cli import run_old_entry_point


def main(argv: Sequence[str] | None = None) -> int:
    return run_old_entry_point("python -m vlmprune.bench", ["bench"], argv)


if __name__ == "__main__":
    sys.exit(main())
