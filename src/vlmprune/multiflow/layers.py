"""The prunable linear layers of a loaded model, matched to step 1's checkpoint tensor names.

Step 1 names layers as the checkpoint does; transformers may load them under other module
names (a ``save_pretrained`` LLaVA stores ``language_model.model.layers.0…`` for the module
``model.language_model.layers.0…``). The checkpoint name of each module weight comes from
transformers' own reverse mapping, the one ``save_pretrained`` applies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch import nn

from vlmprune.multiflow.config import MultiflowConfig
from vlmprune.multiflow.distribution import prunable_layers


@dataclass(frozen=True)
class PrunableLayer:
    modality: str
    checkpoint_name: str  # step 1's layer name: the checkpoint tensor name without ".weight"


def checkpoint_names(model: nn.Module, module_names: list[str]) -> dict[str, str]:
    """Module layer name -> checkpoint layer name, for the linear layers ``module_names``."""
    weights = {f"{name}.weight": model.get_submodule(name).weight for name in module_names}
    try:
        from transformers.core_model_loading import revert_weight_conversion

        saved = revert_weight_conversion(model, dict(weights))
    except (ImportError, AttributeError, TypeError):  # not a transformers model: names are kept
        saved = weights
    by_tensor = {id(tensor): key for key, tensor in saved.items()}
    return {
        name: by_tensor.get(id(weights[f"{name}.weight"]), f"{name}.weight").removesuffix(".weight")
        for name in module_names
    }


def prunable_modules(
    model: nn.Module, model_path: str | os.PathLike, config: MultiflowConfig | None = None
) -> dict[str, PrunableLayer]:
    """Module name -> modality and checkpoint name, for exactly the layers step 1 budgets."""
    wanted = prunable_layers(model_path, config)
    linear = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    found = {}
    for module_name, checkpoint in checkpoint_names(model, linear).items():
        if checkpoint in wanted:
            found[module_name] = PrunableLayer(wanted[checkpoint], checkpoint)
    missing = sorted(set(wanted) - {layer.checkpoint_name for layer in found.values()})
    if missing:
        raise ValueError(
            f"{len(missing)} prunable weights of the checkpoint are not linear layers of "
            "the loaded "
            f"model ({', '.join(missing[:3])} …); leave them out with multiflow.exclude"
        )
    return found
