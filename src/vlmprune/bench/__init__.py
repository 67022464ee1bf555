"""Benchmarks, one module each, run as ``vlmprune bench NAME``: ``engine``, ``beam``, ``export``,
``multiflow``, ``multiflow_prune`` (``multiflow-prune``) and ``dag``.

Each module's ``run(...)`` is the benchmark; its keyword parameters are the command's options
(see :mod:`vlmprune.cli.commands`), and its docstring the command's ``--help``.
"""

__all__ = ["beam", "dag", "engine", "export", "multiflow", "multiflow_prune"]
