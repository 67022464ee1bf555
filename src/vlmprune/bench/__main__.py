"""Dispatch ``python -m vlmprune.bench SUBCOMMAND [args]`` to the subcommand's module."""

from __future__ import annotations

import importlib
import sys

from vlmprune.bench import SUBCOMMANDS


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SUBCOMMANDS:
        print(
            f"usage: python -m vlmprune.bench {{{','.join(sorted(SUBCOMMANDS))}}} [args]",
            file=sys.stderr,
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(SUBCOMMANDS[argv[0]])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
