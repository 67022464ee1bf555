"""The adapter for the native Molmo v1 (:mod:`vlmprune.models.molmo.modeling`): standard
``generate``, so it fuses.

Language blocks at ``model.transformer.blocks`` (tensors in and out, keys and values through
``Cache.update``), vision blocks at ``model.vision_backbone.image_vit.transformer.resblocks``.
The processor is anything with Molmo's ``process(images=[image], text=…, message_format="none",
always_start_with_space=False)`` giving one sample's unbatched ``input_ids``, ``images``,
``image_masks`` and ``image_input_idx``; the batch is padded on the left (:func:`collate`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vlmprune.errors import ModelError
from vlmprune.models.base import ModelAdapter, read_model_config
from vlmprune.models.molmo.configuration import WAY_OUT, unimplemented_settings
from vlmprune.models.molmo.processing import MolmoImageSettings, MolmoProcessing, collate
from vlmprune.models.molmo.remote_code import MolmoAdapter, molmo_answer, stop_token_id
from vlmprune.models.prompts import molmo_prompt

if TYPE_CHECKING:
    from vlmprune.models.molmo.modeling import MolmoNativeForCausalLM


def check_weights(path: Path, info: dict[str, Any]) -> None:
    """Every weight of the native model in the snapshot, and nothing else, with the right shapes."""
    problems = {
        "missing": sorted(info.get("missing_keys") or ()),
        "unexpected (a config.json field that would use them is missing or off)": sorted(
            info.get("unexpected_keys") or ()
        ),
        "of another shape": sorted(str(m) for m in info.get("mismatched_keys") or ()),
    }
    found = {what: names for what, names in problems.items() if names}
    if found:
        raise ModelError(
            f"{str(path)!r} does not hold the weights its config.json describes: "
            + "; ".join(f"{what}: {', '.join(names)}" for what, names in found.items())
            + ". Check that every safetensors file of the snapshot was copied and that config.json "
            "is the one published with these weights"
        )


class MolmoNativeAdapter(ModelAdapter):
    name = "molmo_native"
    model_types = ()
    block_paths = {
        "language": ("model.transformer.blocks",),
        "vision": ("model.vision_backbone.image_vit.transformer.resblocks",),
    }
    modality_patterns = MolmoAdapter.modality_patterns
    modality_exclude = MolmoAdapter.modality_exclude
    deletion_fields = {
        "language": (("", "num_hidden_layers", "count"),),
        # vit_layers index the blocks' outputs from the end, as hidden-state indices do.
        "vision": (
            ("vision_backbone", "image_num_layers", "count"),
            ("", "vit_layers", "hidden_state"),
        ),
    }
    loading_instructions = (
        "Molmo v1 has no class in `transformers`: this directory is in the layout of "
        "vlmprune's native Molmo "
        "(the published weight names, `MolmoNativeConfig`), which loads it without running "
        "any checkpoint code:",
        "from vlmprune.models.loading import load_adapter\n"
        'adapter = load_adapter("{variant}", device="cpu")  # adapter.model, adapter.processor',
    )

    @classmethod
    def count_blocks(cls, config: dict[str, Any], component: str) -> int:
        return MolmoAdapter.count_blocks(config, component)

    @classmethod
    def load(
        cls, path: Path, dtype: torch.dtype, device: torch.device
    ) -> tuple[MolmoNativeForCausalLM, MolmoProcessing]:
        """Model and processor from a hub snapshot of Molmo-7B-D/-O or MolmoE-1B, running none of
        its code."""
        from transformers import AutoTokenizer

        # imported here: the model class imports transformers' modeling code (about 3 s), which
        # counting blocks and checking options when Snakemake starts do not need
        from vlmprune.models.molmo.modeling import MolmoNativeForCausalLM

        unimplemented = unimplemented_settings(read_model_config(path))
        if unimplemented:
            raise ModelError(
                f"{str(path)!r}: config.json sets what the native Molmo v1 does not implement: "
                + "; ".join(unimplemented)
                + f". Nothing was loaded; {WAY_OUT}"
            )
        try:
            model, info = MolmoNativeForCausalLM.from_pretrained(
                str(path), dtype=dtype, use_safetensors=True, output_loading_info=True
            )
        except OSError as error:
            raise ModelError(
                f"{str(path)!r} is not a whole Molmo snapshot: {error}. Copy every file of the hub "
                "repository (e.g. `hf download allenai/Molmo-7B-D-0924 --local-dir …`)"
            ) from error
        except (ValueError, RuntimeError) as error:  # a config.json the model cannot build, shapes
            raise ModelError(f"{str(path)!r}: {error}") from error
        check_weights(path, info)
        model = model.to(device)
        preprocessor = path / "preprocessor_config.json"
        settings = (
            MolmoImageSettings.from_dict(json.loads(preprocessor.read_text()))
            if preprocessor.is_file()
            else MolmoImageSettings()
        )
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                str(path), trust_remote_code=False
            )  # no prompt about auto_map
        except (OSError, ValueError) as error:
            raise ModelError(
                f"cannot load the tokenizer of {str(path)!r} ({error}); copy the "
                "snapshot's tokenizer files"
            ) from error
        return model, MolmoProcessing(tokenizer, settings)

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    def stop_token_id(self) -> int:
        return stop_token_id(self.tokenizer)

    def prompt(
        self, question: str, style: str, choices: Sequence[str] = (), context: str = ""
    ) -> str:
        return molmo_prompt(question, style, choices, context)

    def encode(self, records: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        samples = [
            {
                k: torch.as_tensor(v)
                for k, v in self.processor.process(
                    images=[r["image"].convert("RGB")],
                    text=self.prompt(
                        r["question"], r["style"], r.get("choices") or (), r.get("context") or ""
                    ),
                    message_format="none",
                    always_start_with_space=False,
                ).items()
            }
            for r in records
        ]
        batch = collate(samples, pad_token_id=self.stop_token_id())
        dtype = next(self.model.parameters()).dtype
        return {
            k: v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device)
            for k, v in batch.items()
        }

    @torch.inference_mode()
    def pre_encode(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The crops encoded once (``image_features``), for the fused engine's several generations
        on one batch."""
        rest = dict(inputs)
        images, masks = rest.pop("images"), rest.pop("image_masks")
        return {**rest, "image_features": self.model.model.vision_backbone(images, masks)}

    def clean_answer(self, generation: str) -> str:
        return molmo_answer(generation)

    def decode(self, generated: torch.Tensor) -> list[str]:
        return [
            text.strip()
            for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        ]

    @torch.inference_mode()
    def generate_encoded(self, inputs: dict[str, Any], max_new_tokens: int) -> list[str]:
        stop = self.stop_token_id()
        output = self.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=stop,
            pad_token_id=stop,
        )
        return self.decode(output[:, inputs["input_ids"].shape[1] :])
