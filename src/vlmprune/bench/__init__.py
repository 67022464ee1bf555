"""Benchmarks, one module per ``vlmprune bench NAME`` command (``multiflow_prune`` is
``multiflow-prune``); :data:`vlmprune.cli.commands.COMMANDS` lists them with what each measures.

Each module's ``run(...)`` is the benchmark; its keyword parameters are the command's options,
and the module's docstring the command's ``--help``.
"""

import pkgutil

__all__ = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "__main__")
