"""LLaVA-OneVision (``LlavaOnevisionForConditionalGeneration``), e.g.
``llava-hf/llava-onevision-qwen2-7b-ov-hf``.

A SigLIP tower (``model.vision_tower.encoder.layers``) whose any-resolution
tiles feed a Qwen2 decoder (``model.language_model.layers``). Without a chat template the
prompt is the Qwen turn with LLaVA's ``<image>`` placeholder.
"""

from __future__ import annotations

from vlmprune.models.chat_template import ChatTemplateAdapter


class LlavaOnevisionAdapter(ChatTemplateAdapter):
    name = "llava_onevision"
    model_types = ("llava_onevision",)
    architectures = ("LlavaOnevisionForConditionalGeneration",)
    block_paths = {
        "language": ("model.language_model.layers",),
        "vision": (
            "model.vision_tower.encoder.layers",
            "model.vision_tower.vision_model.encoder.layers",
        ),
    }
    # vision_feature_layer indexes the tower's hidden states: it must point at the same state after
    # deletion.
    deletion_fields = {
        "language": (
            ("text_config", "num_hidden_layers", "count"),
            ("text_config", "layer_types", "per_layer"),
        ),
        "vision": (
            ("vision_config", "num_hidden_layers", "count"),
            ("", "vision_feature_layer", "hidden_state"),
        ),
    }
    image_placeholder = "<image>"
    fallback_format = "<|im_start|>user\n{image}\n{body}<|im_end|>\n<|im_start|>assistant\n"
    # As transformers 5.23 saves them (the hub layout): vision_tower.…, multi_modal_projector.…,
    # image_newline, language_model.model.layers.N, language_model.model.embed_tokens,
    # language_model.lm_head.
    modality_patterns = {
        "vision": (r"(^|\.)vision_tower\.",),
        "fusion": (
            r"(^|\.)multi_modal_projector\.",
            r"(^|\.)image_newline$",
            r"(^|\.)language_model\.(model\.)?layers\.\d+\.",
        ),
        "text": (r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."),
    }
