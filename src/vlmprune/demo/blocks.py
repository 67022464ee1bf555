"""The demo model's block counts, known from its training parameters before it exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEXT_LAYERS = 8
VISION_LAYERS = 3

_LAYERS = {"language": ("text_layers", TEXT_LAYERS), "vision": ("vision_layers", VISION_LAYERS)}


def demo_block_count(params: Mapping[str, Any], component: str) -> int:
    """Blocks of ``component`` in the demo model that ``train_demo_model(**params)`` builds."""
    name, default = _LAYERS[component]
    return int(params.get(name, default))
