"""Shared code of the adapters for image-text-to-text models native to ``transformers``.

Each family names its block lists, its prompt format (the processor's chat template, or the
family's documented format when the checkpoint has none) and how its processor wants the
images of a batch. Generation is ``model.generate`` as in :class:`ModelAdapter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from vlmprune.errors import ModelError
from vlmprune.models.base import ModelAdapter
from vlmprune.models.prompts import chat_prompt, short_answer_body


class ChatTemplateAdapter(ModelAdapter):
    """One image per record, the user's turn in the chat template, greedy ``generate``."""

    #: The processor's image placeholder, and the family's prompt format without a template.
    image_placeholder: ClassVar[str]
    fallback_format: ClassVar[str]
    #: Whether the processor wants one list of images per sample (``[[image], [image]]``).
    nested_images: ClassVar[bool] = False
    #: Keys of the processor's output that hold floating-point image data (cast to the model's dtype).
    float_inputs: ClassVar[tuple[str, ...]] = ("pixel_values",)
    text_config_key: ClassVar[str] = "text_config"
    vision_config_key: ClassVar[str] = "vision_config"
    vision_layers_key: ClassVar[str] = "num_hidden_layers"

    @classmethod
    def count_blocks(cls, config: dict[str, Any], component: str) -> int:
        if component == "language":
            return int(config[cls.text_config_key]["num_hidden_layers"])
        return int(config[cls.vision_config_key][cls.vision_layers_key])

    def prompt(
        self, question: str, style: str, choices: Sequence[str] = (), context: str = ""
    ) -> str:
        return chat_prompt(
            self.processor,
            short_answer_body(question, style, choices, context),
            image_placeholder=self.image_placeholder,
            fallback=self.fallback_format,
        )

    def encode(self, records: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        prompts = [
            self.prompt(r["question"], r["style"], r.get("choices") or (), r.get("context") or "")
            for r in records
        ]
        images = [r["image"].convert("RGB") for r in records]
        if self.nested_images:
            images = [[image] for image in images]
        inputs = self.processor(text=prompts, images=images, return_tensors="pt", padding=True)
        dtype = next(self.model.parameters()).dtype
        return {
            k: (v.to(self.device, dtype) if k in self.float_inputs else v.to(self.device))
            for k, v in inputs.items()
            if isinstance(v, torch.Tensor)
        }

    def decode(self, generated: torch.Tensor) -> list[str]:
        return [
            text.strip()
            for text in self.processor.batch_decode(generated, skip_special_tokens=True)
        ]


class GenericAdapter(ChatTemplateAdapter):
    """Any ``AutoModelForImageTextToText`` model, chosen only by ``model.adapter: generic``.

    The block list is the first of the usual module paths that exists, or ``model.block_path``.
    """

    name = "generic"
    model_types = ()
    block_paths = {
        "language": (
            "model.language_model.layers",
            "model.text_model.layers",
            "language_model.model.layers",
            "model.language_model.model.layers",
            "model.layers",
        ),
        "vision": (
            "model.vision_tower.encoder.layers",
            "model.vision_tower.vision_model.encoder.layers",
            "model.vision_model.encoder.layers",
            "model.vision_tower.layers",
            "model.visual.blocks",
        ),
    }
    image_placeholder = "<image>"
    fallback_format = "USER: {image}\n{body} ASSISTANT:"
    deletion_fields = {
        "language": (
            ("text_config", "num_hidden_layers", "count"),
            ("text_config", "layer_types", "per_layer"),
        ),
        "vision": (("vision_config", "num_hidden_layers", "count"),),
    }

    @classmethod
    def count_blocks(cls, config: dict[str, Any], component: str) -> int:
        section = config.get("text_config" if component == "language" else "vision_config") or {}
        for key in ("num_hidden_layers", "depth", "num_layers"):
            if key in section:
                return int(section[key])
        raise ModelError(
            f"config.json has no {component} layer count; the generic adapter counts blocks after loading"
        )

    def prompt(
        self, question: str, style: str, choices: Sequence[str] = (), context: str = ""
    ) -> str:
        return chat_prompt(
            self.processor,
            short_answer_body(question, style, choices, context),
            image_placeholder=getattr(self.processor, "image_token", None)
            or self.image_placeholder,
            fallback=self.fallback_format,
        )
