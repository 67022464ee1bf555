"""The demo model's block count, known from its training parameters before it exists."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from vlmprune.demo.train import train_demo_model

_LAYER_PARAMETER = {"language": "text_layers", "vision": "vision_layers"}


def demo_block_count(params: Mapping[str, Any], component: str) -> int:
    """Blocks of ``component`` in the demo model that ``train_demo_model(**params)`` builds."""
    name = _LAYER_PARAMETER[component]
    return int(params.get(name, inspect.signature(train_demo_model).parameters[name].default))
