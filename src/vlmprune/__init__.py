"""vlmprune: which transformer blocks of a vision-language model can go, and at what cost.

The library behind the Snakemake workflow in ``workflow/`` and the ``vlmprune`` command
(``cli``). Imports point downwards: ``analysis`` and ``export`` use ``engine``, which uses
``models``, ``data`` and ``metrics``; ``multiflow`` splits a sparsity budget across layers;
``demo`` builds the embedded demo model; ``bench`` holds the benchmarks.
"""

__version__ = "0.1.0"  # the one place: pyproject.toml reads it from here
