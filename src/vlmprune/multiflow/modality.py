"""Which prunable weight belongs to which modality, from tensor names alone.

A tensor is *prunable* when it is the matrix of a linear layer: its name ends in
``.weight``, it has two dimensions and no exclusion pattern matches it (the default
exclusions drop embeddings, the output head, norms and biases). A prunable tensor belongs to
the first modality, in the order vision, fusion, text, one of whose patterns matches
(``re.search`` on the full tensor name). Patterns are unanchored on purpose, so the same
defaults hold whatever prefix a checkpoint puts in front of the module path.

The language model of LLaVA and Molmo sees image and text tokens alike, so both count it as
*fusion*, as MULTIFLOW's LLaVA code does; *text* is then only the embeddings and the head,
excluded by default (set ``exclude`` to prune them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MODALITIES = ("vision", "fusion", "text")

ARCHITECTURES: dict[str, dict] = {
    # liuhaotian/llava-v1.5-7b: model.mm_projector.{0,2}, model.layers.N, model.embed_tokens, lm_head;
    # the CLIP tower, when saved with it, sits under model.vision_tower.
    "llava-original": {
        "patterns": {
            "vision": [r"(^|\.)vision_tower\."],
            "fusion": [r"(^|\.)mm_projector\.", r"(^|\.)layers\.\d+\."],
            "text": [r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."],
        },
        "exclude": [r"embed", r"(^|\.)lm_head\.", r"norm", r"\.bias$"],
    },
    # llava-hf/llava-1.5-7b-hf and save_pretrained of LlavaForConditionalGeneration:
    # vision_tower.…, multi_modal_projector.linear_{1,2}, language_model.model.layers.N (or
    # model.language_model.layers.N), …embed_tokens, lm_head.
    "llava-hf": {
        "patterns": {
            "vision": [r"(^|\.)vision_tower\."],
            "fusion": [r"(^|\.)multi_modal_projector\.", r"(^|\.)language_model\.(model\.)?layers\.\d+\."],
            "text": [r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."],
        },
        "exclude": [r"embed", r"(^|\.)lm_head\.", r"norm", r"\.bias$"],
    },
    # allenai/Molmo-7B-D-0924: model.vision_backbone.image_vit.…, the connector
    # model.vision_backbone.image_pooling_2d / image_projector, model.transformer.blocks.N,
    # embeddings model.transformer.wte.*, head model.transformer.ff_out (or lm_head).
    "molmo": {
        "patterns": {
            "vision": [r"(^|\.)vision_backbone\.image_vit\."],
            "fusion": [r"(^|\.)vision_backbone\.(image_pooling_2d|image_projector)\.",
                       r"(^|\.)transformer\.blocks\.\d+\."],
            "text": [r"(^|\.)transformer\.wte\.", r"(^|\.)transformer\.ff_out\.", r"(^|\.)lm_head\."],
        },
        "exclude": [r"embed", r"(^|\.)wte\.", r"(^|\.)transformer\.ff_out\.", r"(^|\.)lm_head\.", r"norm",
                    r"(^|\.)ln_", r"\.bias$"],
    },
}

# model_type in config.json, used when the tensor names alone do not tell.
MODEL_TYPES = {"llava_llama": "llava-original", "llava": "llava-hf", "molmo": "molmo"}


def detect_architecture(names: Iterable[str], model_dir: Path | None = None) -> str:
    """Pick the architecture from telltale tensor names, else from config.json's model_type."""
    names = list(names)
    for marker, arch in ((r"(^|\.)vision_backbone\.", "molmo"), (r"(^|\.)mm_projector\.", "llava-original"),
                         (r"(^|\.)multi_modal_projector\.", "llava-hf")):
        if any(re.search(marker, n) for n in names):
            return arch
    model_type = None
    if model_dir is not None and (model_dir / "config.json").is_file():
        try:
            model_type = json.loads((model_dir / "config.json").read_text()).get("model_type")
        except (OSError, ValueError, AttributeError):
            model_type = None
    if model_type in MODEL_TYPES:
        return MODEL_TYPES[model_type]
    raise ValueError(f"cannot tell the architecture of the checkpoint in {model_dir} (model_type {model_type!r}, "
                     f"no projector tensor found); set multiflow.architecture to one of {sorted(ARCHITECTURES)} "
                     "or give multiflow.patterns for every modality")


@dataclass(frozen=True)
class ModalityRules:
    """Compiled modality patterns and exclusions for one checkpoint."""

    architecture: str
    patterns: dict[str, tuple[re.Pattern, ...]]
    exclude: tuple[re.Pattern, ...]

    @classmethod
    def build(
        cls,
        architecture: str,
        patterns: Mapping[str, list[str]] | None = None,
        exclude: list[str] | None = None,
    ) -> "ModalityRules":
        """Architecture defaults, with any modality in ``patterns`` and ``exclude`` replacing them."""
        base = ARCHITECTURES.get(architecture, {"patterns": {}, "exclude": []})
        if architecture not in ARCHITECTURES and set(patterns or {}) != set(MODALITIES):
            raise ValueError(f"unknown architecture {architecture!r}: use one of {sorted(ARCHITECTURES)} "
                             f"or give patterns for all of {MODALITIES}")
        unknown = set(patterns or {}) - set(MODALITIES)
        if unknown:
            raise ValueError(f"multiflow.patterns has unknown modalities {sorted(unknown)}; use {MODALITIES}")
        merged = {m: list((patterns or {}).get(m, base["patterns"].get(m, []))) for m in MODALITIES}
        return cls(
            architecture,
            {m: tuple(re.compile(p) for p in merged[m]) for m in MODALITIES},
            tuple(re.compile(p) for p in (base["exclude"] if exclude is None else exclude)),
        )

    def is_prunable(self, name: str, shape: tuple[int, ...]) -> bool:
        return (name.endswith(".weight") and len(shape) == 2 and 0 not in shape
                and not any(p.search(name) for p in self.exclude))

    def rank(self, name: str, modality: str) -> int:
        """Index of the first of the modality's patterns matching ``name``: orders layers by component."""
        return next((i for i, p in enumerate(self.patterns[modality]) if p.search(name)), len(self.patterns[modality]))

    def modality(self, name: str) -> str | None:
        for modality in MODALITIES:
            if any(p.search(name) for p in self.patterns[modality]):
                return modality
        return None
