"""vlmprune: which transformer blocks of a vision-language model can go, and at what cost."""

__version__ = "0.1.0"
