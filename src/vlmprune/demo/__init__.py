"""The embedded demo model: a tiny LLaVA trained on easy-VQA, saved like a real checkpoint.

Import from the submodules (``vlmprune.demo.train``, ``vlmprune.demo.tokenizer``): the
workflow reads the block counts from ``vlmprune.demo.blocks`` when it builds its DAG, which
must not pay for importing torch and transformers.
"""

__all__ = ["blocks", "tokenizer", "train"]
