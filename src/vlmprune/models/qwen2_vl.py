"""Qwen2-VL and Qwen2.5-VL (``Qwen2VLForConditionalGeneration``,
``Qwen2_5_VLForConditionalGeneration``).

Language blocks at ``model.language_model.layers`` (3-D M-RoPE positions, optional
sliding-window layers); vision blocks at ``model.visual.blocks``. Without a chat template
the prompt is Qwen's ``<|im_start|>user\\n<|vision_start|><|image_pad|><|vision_end|>…``.
"""

from __future__ import annotations

from vlmprune.models.chat_template import ChatTemplateAdapter


class Qwen2VLAdapter(ChatTemplateAdapter):
    name = "qwen2_vl"
    model_types = ("qwen2_vl", "qwen2_5_vl")
    architectures = ("Qwen2VLForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration")
    block_paths = {
        "language": ("model.language_model.layers",),
        "vision": ("model.visual.blocks",),
    }
    # Qwen2.5-VL's vision tower runs full attention at fullatt_block_indexes (kept by the tower
    # itself too).
    deletion_fields = {
        "language": (
            ("text_config", "num_hidden_layers", "count"),
            ("text_config", "layer_types", "per_layer"),
        ),
        "vision": (
            ("vision_config", "depth", "count"),
            ("vision_config", "fullatt_block_indexes", "indices"),
        ),
    }
    owner_attributes = {"vision": (("fullatt_block_indexes", "indices"),)}
    image_placeholder = "<|vision_start|><|image_pad|><|vision_end|>"
    fallback_format = "<|im_start|>user\n{image}{body}<|im_end|>\n<|im_start|>assistant\n"
    vision_layers_key = "depth"
    # On disk, Qwen/Qwen2-VL-* : visual.patch_embed / visual.blocks.N / visual.merger,
    # model.layers.N,
    # model.embed_tokens, lm_head; save_pretrained in transformers 5 writes model.visual.…,
    # model.language_model.….
    modality_patterns = {
        "vision": (r"(^|\.)visual\.(patch_embed|blocks)\.",),
        "fusion": (r"(^|\.)visual\.merger\.", r"(^|\.)(language_model|model)\.layers\.\d+\."),
        "text": (r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."),
    }
