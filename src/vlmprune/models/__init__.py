"""Model adapters: the only place that knows model families.

- ``base``: the adapter interface; ``loading``: which adapter a checkpoint gets, and loading it.
- One adapter per family: ``llava``, ``llava_onevision``, ``qwen2_vl``, ``idefics3``,
  ``gemma3``, ``molmo2``, and ``molmo`` (Molmo v1: native implementation, processing,
  adapters); ``chat_template``: what the adapters of ``transformers``-native families share.
- ``prompts``: the prompt per family and dataset.
- ``skipping``: a removed block returns its input; ``deletion``: blocks physically deleted.
- ``masking``: bit-packed pruning masks applied to a loaded model's weights.
"""

__all__ = [
    "base",
    "chat_template",
    "deletion",
    "gemma3",
    "idefics3",
    "llava",
    "llava_onevision",
    "loading",
    "masking",
    "molmo",
    "molmo2",
    "prompts",
    "qwen2_vl",
    "skipping",
]
