"""LLaVA (``LlavaForConditionalGeneration``), as in ``llava-hf/llava-1.5-7b-hf`` and the demo model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from vlmprune.models.base import ModelAdapter
from vlmprune.models.prompts import llava_prompt


class LlavaAdapter(ModelAdapter):
    name = "llava"
    model_types = ("llava",)
    block_paths = {
        "language": ("model.language_model.layers",),
        "vision": (
            "model.vision_tower.encoder.layers",
            "model.vision_tower.vision_model.encoder.layers",
        ),
    }

    # save_pretrained of LlavaForConditionalGeneration (llava-hf/llava-1.5-7b-hf): vision_tower.…,
    # multi_modal_projector.linear_{1,2}, language_model.model.layers.N (or model.language_model.layers.N).
    # The language model sees image and text tokens alike, so it counts as fusion, as MULTIFLOW's LLaVA code does.
    modality_patterns = {
        "vision": (r"(^|\.)vision_tower\.",),
        "fusion": (
            r"(^|\.)multi_modal_projector\.",
            r"(^|\.)language_model\.(model\.)?layers\.\d+\.",
        ),
        "text": (r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."),
    }

    # vision_feature_layer indexes the tower's hidden states: it must point at the same state after deletion.
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

    @classmethod
    def count_blocks(cls, config: dict[str, Any], component: str) -> int:
        key = "text_config" if component == "language" else "vision_config"
        return int(config[key]["num_hidden_layers"])

    def prompt(
        self, question: str, style: str, choices: Sequence[str] = (), context: str = ""
    ) -> str:
        return llava_prompt(question, style, choices, context)

    def encode(self, records: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        prompts = [
            self.prompt(r["question"], r["style"], r.get("choices") or (), r.get("context") or "")
            for r in records
        ]
        images = [r["image"].convert("RGB") for r in records]
        inputs = self.processor(text=prompts, images=images, return_tensors="pt", padding=True)
        dtype = next(self.model.parameters()).dtype
        return {
            k: (v.to(self.device, dtype) if k == "pixel_values" else v.to(self.device))
            for k, v in inputs.items()
        }

    def decode(self, generated: torch.Tensor) -> list[str]:
        return [
            text.strip()
            for text in self.processor.batch_decode(generated, skip_special_tokens=True)
        ]
