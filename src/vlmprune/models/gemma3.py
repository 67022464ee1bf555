"""Gemma 3 (``Gemma3ForConditionalGeneration``), e.g. ``google/gemma-3-4b-it``.

The decoder (``model.language_model.layers``) mixes sliding-window and global layers, each
with its own rotary table, by ``text_config.layer_types``; a removed block keeps its index,
so every other layer keeps its attention type and cache slot. The vision tower is SigLIP
(``model.vision_tower.encoder.layers``). Without a chat template the prompt is
Gemma's ``<start_of_turn>user`` turn with the ``<start_of_image>`` placeholder.
"""

from __future__ import annotations

from vlmprune.models.chat_template import ChatTemplateAdapter


class Gemma3Adapter(ChatTemplateAdapter):
    name = "gemma3"
    model_types = ("gemma3",)
    architectures = ("Gemma3ForConditionalGeneration",)
    block_paths = {
        "language": ("model.language_model.layers",),
        "vision": (
            "model.vision_tower.encoder.layers",
            "model.vision_tower.vision_model.encoder.layers",
        ),
    }
    deletion_fields = {
        "language": (
            ("text_config", "num_hidden_layers", "count"),
            ("text_config", "layer_types", "per_layer"),
        ),
        "vision": (("vision_config", "num_hidden_layers", "count"),),
    }
    image_placeholder = "<start_of_image>"
    fallback_format = "<start_of_turn>user\n{image}{body}<end_of_turn>\n<start_of_turn>model\n"
    nested_images = True
    # As transformers 5.23 saves them (the hub layout): vision_tower.…, multi_modal_projector.…,
    # language_model.model.layers.N, language_model.model.embed_tokens (lm_head tied to it).
    modality_patterns = {
        "vision": (r"(^|\.)vision_tower\.",),
        "fusion": (
            r"(^|\.)multi_modal_projector\.",
            r"(^|\.)language_model\.(model\.)?layers\.\d+\.",
        ),
        "text": (r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."),
    }
