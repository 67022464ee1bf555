"""Idefics3 (``Idefics3ForConditionalGeneration``), e.g. ``HuggingFaceM4/Idefics3-8B-Llama3`` and
``HuggingFaceTB/SmolVLM-Instruct``; SmolVLM2 (``SmolVLMForConditionalGeneration``, same layout).

The language model is a Llama (``model.text_model.layers``); the vision tower a SigLIP
encoder (``model.vision_model.encoder.layers``). Without a chat template the prompt is
Idefics3's ``User:<image>{question}<end_of_utterance>\\nAssistant:``.
"""

from __future__ import annotations

from vlmprune.models.chat_template import ChatTemplateAdapter


class Idefics3Adapter(ChatTemplateAdapter):
    name = "idefics3"
    model_types = ("idefics3", "smolvlm")
    architectures = ("Idefics3ForConditionalGeneration", "SmolVLMForConditionalGeneration")
    block_paths = {
        "language": ("model.text_model.layers",),
        "vision": ("model.vision_model.encoder.layers",),
    }
    deletion_fields = {
        "language": (
            ("text_config", "num_hidden_layers", "count"),
            ("text_config", "layer_types", "per_layer"),
        ),
        "vision": (("vision_config", "num_hidden_layers", "count"),),
    }
    image_placeholder = "<image>"
    fallback_format = "User:{image}{body}<end_of_utterance>\nAssistant:"
    nested_images = True
    # On disk (HuggingFaceM4/Idefics3-8B-Llama3 and save_pretrained alike): model.vision_model.…,
    # model.connector.modality_projection.proj, model.text_model.layers.N,
    # model.text_model.embed_tokens, lm_head.
    modality_patterns = {
        "vision": (r"(^|\.)vision_model\.",),
        "fusion": (r"(^|\.)connector\.", r"(^|\.)text_model\.layers\.\d+\."),
        "text": (r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."),
    }
