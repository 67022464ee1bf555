"""Datasets as the workflow uses them: one record schema, whatever the source.

- ``registry``: every dataset the workflow knows, its source, splits, prompt style and metric.
- ``sources``: one module per upstream layout, each turning it into records.
- ``records``: the common record schema.
- ``prepare``: a split written to disk as records, and the evaluation's sample selection.
"""

__all__ = ["prepare", "records", "registry", "sources"]
