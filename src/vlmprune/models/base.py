"""The adapter interface: everything the workflow needs to know about one model family."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from vlmprune.errors import ModelError

COMPONENTS = ("language", "vision")

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ModelError(f"model.dtype {dtype!r} is not one of {['auto', *DTYPES]}") from None


def read_model_config(path: str | Path) -> dict[str, Any]:
    """The checkpoint's ``config.json``, with a message that says what is wrong if there is none."""
    path = Path(path)
    if not path.exists():
        raise ModelError(
            f"model path {str(path)!r} does not exist; set model.path in the config to a directory "
            "written by save_pretrained (or leave the default to train the demo model)"
        )
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelError(
            f"model path {str(path)!r} has no config.json; is it a directory written by save_pretrained?"
        )
    return json.loads(config_file.read_text())


def module_at(root: nn.Module, dotted: str) -> nn.Module | None:
    module: nn.Module | None = root
    for part in dotted.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def install_output_hooks(model: nn.Module) -> None:
    """Install ``transformers``' hidden-state capturing hooks now, while every block is the model's own.

    They are otherwise installed at the first forward pass, which may run with blocks removed;
    the blocks swapped out then would never be hooked.
    """
    from transformers import PreTrainedModel

    try:
        from transformers.utils.output_capturing import maybe_install_capturing_hooks
    except ImportError:  # a transformers without output-capturing hooks
        return
    if isinstance(model, PreTrainedModel):
        maybe_install_capturing_hooks(model)


class ModelAdapter:
    """Loads one model family and exposes its blocks, prompts and generation.

    Subclasses name the ``model_types`` they serve (``config.json``'s ``model_type``) and
    the module paths of their block lists per component; a config may name another path.
    """

    name: ClassVar[str]
    model_types: ClassVar[tuple[str, ...]]
    block_paths: ClassVar[dict[str, tuple[str, ...]]]
    #: ``config.json`` ``architectures`` entries this adapter serves (used when ``model_type`` is unknown).
    architectures: ClassVar[tuple[str, ...]] = ()
    #: Whether a decoder layer of this family returns a tuple (``skipping.PassThroughBlock``).
    returns_tuple: ClassVar[bool] = False
    #: MULTIFLOW modality -> regexes (``re.search``) over the checkpoint's tensor names.
    modality_patterns: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Regexes of weights MULTIFLOW never prunes: embeddings, the output head, norms, biases.
    modality_exclude: ClassVar[tuple[str, ...]] = (
        r"embed",
        r"(^|\.)lm_head\.",
        r"norm",
        r"\.bias$",
    )
    #: Generation is Hugging Face ``generate`` with a ``Cache`` whose ``update`` every block calls,
    #: so the fused engine may feed recorded prefixes into it (``vlmprune.engine.fused``).
    fuses: ClassVar[bool] = True
    #: The checkpoint's modelling code is remote (``trust_remote_code``): loaded only where the config allows it.
    remote_code: ClassVar[bool] = False
    #: Per component, the config fields that change when blocks are deleted: ``(config path, key, kind)``,
    #: kinds as in :func:`vlmprune.models.deletion.delete_blocks`. Empty: this family cannot export.
    deletion_fields: ClassVar[dict[str, tuple[tuple[str, str, str], ...]]] = {}
    #: Per component, ``(attribute, kind)`` of per-layer lists kept by the module that owns the block list.
    owner_attributes: ClassVar[dict[str, tuple[tuple[str, str], ...]]] = {}
    #: How an exported directory loads: the model card's sentence, then its code (``{variant}``: the directory).
    loading_instructions: ClassVar[tuple[str, str]] = (
        "It loads with plain `transformers`:",
        "from transformers import AutoModelForImageTextToText, AutoProcessor\n"
        'model = AutoModelForImageTextToText.from_pretrained("{variant}")\n'
        'processor = AutoProcessor.from_pretrained("{variant}")',
    )

    def __init__(
        self,
        model: nn.Module,
        processor: Any,
        *,
        component: str = "language",
        block_path: str | None = None,
    ) -> None:
        if component not in COMPONENTS:
            raise ModelError(f"ablation.component must be one of {COMPONENTS}, not {component!r}")
        self.model = model.eval()
        install_output_hooks(model)
        self.processor = processor
        self.component = component
        self.blocks = self._find_blocks(block_path)

    def _find_blocks(self, block_path: str | None) -> nn.ModuleList:
        candidates = (block_path,) if block_path else self.block_paths[self.component]
        for dotted in candidates:
            module = module_at(self.model, dotted)
            if isinstance(module, nn.ModuleList):
                return module
        raise ModelError(
            f"no {self.component} block list at {list(candidates)} in {type(self.model).__name__}; "
            "name the module path of the block list with model.block_path in the config"
        )

    @classmethod
    def count_blocks(cls, config: dict[str, Any], component: str) -> int:
        """Number of blocks, read from ``config.json`` without loading weights."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prompt(
        self, question: str, style: str, choices: Sequence[str] = (), context: str = ""
    ) -> str:
        raise NotImplementedError

    def encode(self, records: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Model inputs for a batch of records (prompts built and tokenised, images processed)."""
        raise NotImplementedError

    def decode(self, generated: torch.Tensor) -> list[str]:
        raise NotImplementedError

    def clean_answer(self, generation: str) -> str:
        """The answer the metric scores, from one decoded generation: the family's own clean-up.

        The default keeps the generation as decoded; a family whose published evaluation
        post-processes its answers (Molmo) overrides this, so its scores match its reports.
        """
        return generation

    def skip(self, removed: Iterable[int]) -> AbstractContextManager[None]:
        """Within the context, the blocks at ``removed`` return their input (as the family's layers do)."""
        from vlmprune.models.skipping import skip_blocks

        return skip_blocks(self.blocks, removed, returns_tuple=self.returns_tuple)

    def delete(self, removed: Iterable[int]) -> AbstractContextManager[None]:
        """Within the context, the blocks at ``removed`` are physically gone: the model as if built without them.

        Layer indices and every per-layer config field follow (``deletion_fields``), so that
        ``save_pretrained`` inside the context writes a checkpoint that plain transformers loads.
        """
        from vlmprune.models.deletion import delete_blocks

        fields = self.deletion_fields.get(self.component)
        if not fields:
            raise ModelError(
                f"the {self.name} adapter cannot delete {self.component} blocks physically (no export for it)"
            )
        return delete_blocks(
            self.model,
            self.blocks,
            removed,
            config_fields=fields,
            owner_attributes=self.owner_attributes.get(self.component, ()),
        )

    @torch.inference_mode()
    def generate(self, records: Sequence[dict[str, Any]], max_new_tokens: int) -> list[str]:
        """Greedy answers for a batch of records."""
        return self.generate_encoded(self.encode(records), max_new_tokens)

    @torch.inference_mode()
    def generate_encoded(self, inputs: dict[str, Any], max_new_tokens: int) -> list[str]:
        """Greedy answers for inputs from :meth:`encode` (or :meth:`pre_encode`)."""
        output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        return self.decode(output[:, inputs["input_ids"].shape[1] :])

    @torch.inference_mode()
    def pre_encode(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """``inputs`` with the image/video encoder already run, for several generations on one batch.

        Uses the ``mm_encoder_outputs`` argument of Hugging Face VLMs: the pixel inputs are
        replaced by the output of the model's own ``get_{modality}_features``, called as
        ``generate`` would call it. Only the pixel inputs are dropped: the others the encoder
        read (``image_grid_thw``, ``image_sizes``) stay, as the decoder needs them too (Qwen2-VL's
        M-RoPE positions come from ``image_grid_thw``). Models without that argument get
        ``inputs`` unchanged.
        """
        model = self.model
        if "mm_encoder_outputs" not in inspect.signature(model.forward).parameters:
            return dict(inputs)
        rest = dict(inputs)
        encoded = {}
        used: set[str] = set()
        for modality in ("image", "video"):
            encoder = getattr(model.base_model, f"get_{modality}_features", None)
            if modality not in getattr(model, "input_modalities", ()) or encoder is None:
                continue
            arguments = {
                k: inputs[k]
                for k in inspect.signature(encoder).parameters
                if k != "kwargs" and k in inputs
            }
            if not any(k.startswith("pixel_values") for k in arguments):
                continue
            encoded[modality] = encoder(**arguments, return_dict=True)
            used.update(k for k in arguments if k.startswith("pixel_"))
        for key in used:
            rest.pop(key)
        return {**rest, "mm_encoder_outputs": encoded} if encoded else rest
