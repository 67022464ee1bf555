"""The evaluation engine: many variants of one model evaluated in one pass, sharing work.

- ``variants``: canonical variant ids (``full``, ``drop-3-7``, ``multiflow-0.5``).
- ``fused``: every common prefix of a variant tree computed once per micro-batch.
- ``evaluate``: a list of variants on one sample selection, chunk by chunk, one store each.
- ``run``: one evaluation job, from prepared records and a model to stores and a summary.
- ``orders``: the sample orders a job evaluates in: the selection's, or racing's permutation.
- ``store``: the HDF5 evaluation store; ``identity``: what makes two stores the same.
- ``batching``: micro-batch sizes that halve on out-of-memory.
- ``distributed``: the torchrun world.
- ``proxies``: one-pass importance proxies recorded during the baseline.
"""

__all__ = [
    "batching",
    "distributed",
    "evaluate",
    "fused",
    "identity",
    "orders",
    "proxies",
    "run",
    "store",
    "variants",
]
