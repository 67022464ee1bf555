"""From evaluation stores to answers: which blocks matter, which sets to remove, at what cost.

- ``importance``: accuracy(full) - accuracy(drop-i) per block, with paired bootstrap intervals.
- ``compare``: train against validation importance per dataset, and across datasets.
- ``beam``: beam search over sets of removed blocks.
- ``tradeoff``: accuracy against measured latency, the Pareto frontier.
- ``sparsity``: accuracy of the width variants against their sparsity.
- ``findings``: what a run found, read from its result files, for the report.
"""

__all__ = ["beam", "compare", "findings", "importance", "sparsity", "tradeoff"]
