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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MODALITIES = ("vision", "fusion", "text")

# Checkpoint layouts that no adapter loads, with their patterns here. LLaVA's original repository
# (liuhaotian/llava-v1.5-7b): model.mm_projector.{0,2}, model.layers.N, model.embed_tokens,
# lm_head; the
# CLIP tower, streamed from its own checkpoint, under model.vision_tower.
LAYOUTS: dict[str, dict] = {
    "llava-original": {
        "patterns": {
            "vision": [r"(^|\.)vision_tower\."],
            "fusion": [r"(^|\.)mm_projector\.", r"(^|\.)layers\.\d+\."],
            "text": [r"(^|\.)embed_tokens\.", r"(^|\.)lm_head\."],
        },
        "exclude": [r"embed", r"(^|\.)lm_head\.", r"norm", r"\.bias$"],
    },
}
# multiflow.architecture's name for the adapter whose patterns it means, where the two differ.
ALIASES = {"llava-hf": "llava"}


def architecture_names() -> list[str]:
    """Every value multiflow.architecture takes besides ``auto``: the layouts and each adapter with
    patterns."""
    from vlmprune.models.loading import ADAPTERS

    return [
        *LAYOUTS,
        *ALIASES,
        *(
            name
            for name, cls in ADAPTERS.items()
            if cls.modality_patterns and name not in ALIASES.values()
        ),
    ]


def architecture_rules(architecture: str) -> dict | None:
    """Patterns and exclusions of a layout, or of the adapter the name means; None for an unknown
    name."""
    from vlmprune.models.loading import ADAPTERS

    if architecture in LAYOUTS:
        return LAYOUTS[architecture]
    cls = ADAPTERS.get(ALIASES.get(architecture, architecture))
    if cls is None or not cls.modality_patterns:
        return None
    return {
        "patterns": {m: list(p) for m, p in cls.modality_patterns.items()},
        "exclude": list(cls.modality_exclude),
    }


def detect_architecture(names: Iterable[str], model_dir: Path | None = None) -> str:
    """LLaVA's original layout from its projector's tensor names; otherwise the adapter
    ``config.json`` picks."""
    from vlmprune.errors import ModelError
    from vlmprune.models.loading import adapter_class

    names = list(names)
    if any(re.search(r"(^|\.)mm_projector\.", n) for n in names):
        return "llava-original"
    if model_dir is None or not (model_dir / "config.json").is_file():
        # no config.json beside the weights: the telltale tensor names of the two families step 1
        # began with
        for marker, adapter in (
            (r"(^|\.)vision_backbone\.", "molmo"),
            (r"(^|\.)multi_modal_projector\.", "llava-hf"),
        ):
            if any(re.search(marker, n) for n in names):
                return adapter
    try:
        if model_dir is None:
            raise ModelError("no config.json to read")
        cls = adapter_class(model_dir)
    except ModelError as error:
        raise ValueError(
            f"cannot tell the architecture of the checkpoint in {model_dir} ({error}); set "
            f"multiflow.architecture to one of {architecture_names()} or give "
            "multiflow.patterns for "
            "every modality"
        ) from None
    if not cls.modality_patterns:
        raise ValueError(
            f"the {cls.name} adapter of {model_dir} has no modality patterns; give "
            "multiflow.patterns "
            "for every modality"
        )
    return {adapter: name for name, adapter in ALIASES.items()}.get(cls.name, cls.name)


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
    ) -> ModalityRules:
        """Architecture defaults, with any modality in ``patterns`` and ``exclude`` replacing
        them."""
        base = architecture_rules(architecture)
        if base is None:
            if set(patterns or {}) != set(MODALITIES):
                raise ValueError(
                    f"unknown architecture {architecture!r}: use one of {architecture_names()} "
                    f"or give patterns for all of {MODALITIES}"
                )
            base = {"patterns": {}, "exclude": []}
        unknown = set(patterns or {}) - set(MODALITIES)
        if unknown:
            raise ValueError(
                f"multiflow.patterns has unknown modalities {sorted(unknown)}; use {MODALITIES}"
            )
        merged = {m: list((patterns or {}).get(m, base["patterns"].get(m, []))) for m in MODALITIES}
        return cls(
            architecture,
            {m: tuple(re.compile(p) for p in merged[m]) for m in MODALITIES},
            tuple(re.compile(p) for p in (base["exclude"] if exclude is None else exclude)),
        )

    def is_prunable(self, name: str, shape: tuple[int, ...]) -> bool:
        return (
            name.endswith(".weight")
            and len(shape) == 2
            and 0 not in shape
            and not any(p.search(name) for p in self.exclude)
        )

    def rank(self, name: str, modality: str) -> int:
        """Index of the first of the modality's patterns matching ``name``: orders layers by
        component."""
        return next(
            (i for i, p in enumerate(self.patterns[modality]) if p.search(name)),
            len(self.patterns[modality]),
        )

    def modality(self, name: str) -> str | None:
        for modality in MODALITIES:
            if any(p.search(name) for p in self.patterns[modality]):
                return modality
        return None
