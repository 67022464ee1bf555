"""Molmo2 (``Molmo2ForConditionalGeneration``, native in ``transformers`` 5), e.g.
``allenai/Molmo2-8B``.

Language blocks at ``model.language_model.layers`` (each layer picks the scaled or unscaled
rotary table by its index, so removal keeps indices); vision blocks at
``model.vision_tower.layers``. The prompt comes from the processor's chat template; a
checkpoint without one gets the Qwen-style turn its tokenizer is built on. Molmo2's image
and video processors need ``torchvision``.
"""

from __future__ import annotations

from vlmprune.models.chat_template import ChatTemplateAdapter


class Molmo2Adapter(ChatTemplateAdapter):
    name = "molmo2"
    model_types = ("molmo2",)
    architectures = ("Molmo2ForConditionalGeneration",)
    block_paths = {
        "language": ("model.language_model.layers",),
        "vision": ("model.vision_tower.layers",),
    }
    # rope_scaling_layers: the layers with the scaled rotary table, which the language model
    # resolves at init
    # into rope_types (one entry per layer); the adapter selects vision_feature_layer of the
    # tower's states.
    deletion_fields = {
        "language": (
            ("text_config", "num_hidden_layers", "count"),
            ("text_config", "layer_types", "per_layer"),
            ("text_config", "rope_scaling_layers", "indices"),
        ),
        "vision": (
            ("vision_config", "num_hidden_layers", "count"),
            ("adapter_config", "vision_feature_layer", "hidden_state"),
        ),
    }
    owner_attributes = {"language": (("rope_types", "per_layer"),)}
    image_placeholder = "<|image|>"
    fallback_format = "<|im_start|>user\n{image}{body}<|im_end|>\n<|im_start|>assistant\n"
    # save_pretrained in transformers 5.23 writes the hub layout of allenai/Molmo2-*:
    # model.vision_backbone.image_vit.…,
    # model.vision_backbone.{image_pooling_2d,image_projector}, model.transformer.blocks.N,
    # model.transformer.wte,
    # lm_head; loaded, the same tensors sit at model.vision_tower.…, model.multi_modal_projector.…,
    # model.language_model.layers.N, model.language_model.embed_tokens.
    modality_patterns = {
        "vision": (r"(^|\.)vision_backbone\.image_vit\.", r"(^|\.)vision_tower\."),
        "fusion": (
            r"(^|\.)vision_backbone\.(image_pooling_2d|image_projector)\.",
            r"(^|\.)multi_modal_projector\.",
            r"(^|\.)transformer\.blocks\.\d+\.",
            r"(^|\.)language_model\.layers\.\d+\.",
        ),
        "text": (r"(^|\.)transformer\.wte\.", r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."),
    }
