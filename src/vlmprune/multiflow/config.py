"""The ``multiflow`` section of config/config.yaml.

.. code-block:: yaml

    multiflow:
      # one results/multiflow/sparsity_distribution_{s}.json (+ .png) per target
      targets: [0.3, 0.5, 0.7]
      # auto | llava-original | llava-hf | molmo; auto reads the tensor names, then
      # config.json's model_type
      architecture: auto
      # per modality, regexes searched in tensor names; a modality listed here replaces the
      # architecture's default list, the others keep theirs. Example:
      #   patterns: {vision: ['(^|\\.)vision_tower\\.'], fusion: ['(^|\\.)mm_projector\\.', '(^|\\.)layers\\.\\d+\\.']}
      patterns: {}
      # regexes of tensors never pruned; null keeps the architecture's default
      # (embeddings, output head, norms, biases). Only 2-D ``*.weight`` tensors are ever prunable.
      exclude: null
      # LLaVA's original layout (liuhaotian/llava-v1.5-*) holds no CLIP tower: its checkpoint
      # directory; null reads config.json's mm_vision_tower from the local Hugging Face cache
      vision_tower_path: null

``targets`` drives which files ``rule all`` asks for; the rule's ``params`` carry the rest of
the section, so adding a target reruns nothing that exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

STEP23_KEYS = ("targets", "methods", "evaluate_targets", "evaluate_datasets", "calibration")


@dataclass(frozen=True)
class MultiflowConfig:
    architecture: str = "auto"
    patterns: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] | None = None
    vision_tower_path: str | None = None

    @classmethod
    def from_mapping(cls, section: Mapping | None) -> "MultiflowConfig":
        section = dict(section or {})
        for key in STEP23_KEYS:  # steps 2-3 and evaluation: not step 1's business
            section.pop(key, None)
        unknown = set(section) - {"architecture", "patterns", "exclude", "vision_tower_path"}
        if unknown:
            raise ValueError(f"unknown keys in the multiflow config section: {sorted(unknown)}")
        patterns = section.get("patterns") or {}
        exclude = section.get("exclude")
        return cls(
            architecture=str(section.get("architecture") or "auto"),
            patterns={str(k): [str(p) for p in v] for k, v in patterns.items()},
            exclude=None if exclude is None else [str(p) for p in exclude],
            vision_tower_path=None
            if section.get("vision_tower_path") is None
            else str(section["vision_tower_path"]),
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike | None, **overrides: str | None) -> MultiflowConfig:
        """The ``multiflow`` section of a YAML file (none: the defaults), then ``overrides``.

        An override that is None leaves the file's value.
        """
        section = {}
        if path is not None:
            section = (yaml.safe_load(Path(path).read_text()) or {}).get("multiflow") or {}
        return cls.from_mapping(
            {**section, **{k: v for k, v in overrides.items() if v is not None}}
        )
