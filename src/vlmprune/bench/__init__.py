"""Benchmarks, one subcommand each: ``python -m vlmprune.bench NAME [args]``.

Each entry of :data:`SUBCOMMANDS` names a module with ``main(argv: list[str]) -> int``;
modules are imported only when their subcommand runs.
"""

from __future__ import annotations

SUBCOMMANDS: dict[str, str] = {
    "beam": "vlmprune.bench.beam",
    "dag": "vlmprune.bench.dag",
    "engine": "vlmprune.bench.engine",
    "export": "vlmprune.bench.export",
    "multiflow": "vlmprune.bench.multiflow",
    "multiflow-prune": "vlmprune.bench.multiflow_prune",
    "racing": "vlmprune.bench.racing",
}
