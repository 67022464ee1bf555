"""Molmo v1 (remote code: ``allenai/MolmoE-1B-0924``, ``allenai/Molmo-7B-D-0924``, ``…-O-0924``).

The modelling code ships with the checkpoint (``trust_remote_code``), so it is loaded only
when the config sets ``model.trust_remote_code: true``. What the adapter relies on, as in
Molmo's model card and code:

- language blocks at ``model.transformer.blocks``; each is called as
  ``block(x, attention_bias=…, position_ids=…, drop_mask=…, layer_past=(k, v) | None,
  use_cache=…)`` and returns ``(x, (k, v))``: the cache is a list of per-layer ``(k, v)``
  pairs, and the past length is read from layer 0's keys (``past_key_values[0][0].size(-2)``);
- vision blocks at ``model.vision_backbone.image_vit.transformer.resblocks`` (they return a
  tensor);
- ``processor.process(images=[image], text=…)`` gives one sample's unbatched tensors;
  batches pad ``input_ids`` and image tensors with ``-1`` on the right, which
  ``generate_from_batch`` turns into the attention mask and positions;
- ``model.generate_from_batch(batch, GenerationConfig(max_new_tokens=…,
  stop_strings="<|endoftext|>"), tokenizer=processor.tokenizer)``.

A removed language block therefore returns ``(x, (k, v))`` whose keys and values are
placeholders (one head of width one) with the right sequence length, so that the model still
sees ``n_layers`` cache entries and layer 0's past length stays correct.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from vlmprune.errors import ModelError
from vlmprune.models.base import ModelAdapter
from vlmprune.models.compat import molmo_index_add_fix
from vlmprune.models.prompts import molmo_prompt
from vlmprune.models.skipping import skip_blocks

MOLMO_STOP_STRING = "<|endoftext|>"
PAD = -1


def molmo_answer(generation: str) -> str:
    """The answer Molmo's evaluation scores (``VqaEval`` in allenai/molmo ``olmo/eval/evaluators.py``).

    The text after the first "Answer:" when there is one (up to a second "Answer:");
    otherwise, for a multi-line generation, its most common line (white space collapsed, the
    first such line on a tie); otherwise the generation with white space collapsed.
    """
    text = generation.strip()
    if "Answer:" in text:
        return text.split("Answer:")[1].strip()
    if "\n" in text:
        lines = [" ".join(line.split()) for line in text.split("\n")]
        counts = Counter(lines)
        top = max(counts.values())
        return next(line for line in lines if counts[line] == top)
    return " ".join(text.split())


class MolmoPassThroughBlock(nn.Module):
    """Stands in for a removed Molmo decoder block: ``(x, placeholder (k, v))``."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor, *args: object, layer_past: Any = None, use_cache: bool = False, **kwargs: object):
        if not use_cache:
            return x, None
        batch, length = x.shape[:2]
        placeholder = x.new_zeros(batch, 1, length, 1)
        if layer_past is not None:
            placeholder = torch.cat([layer_past[0], placeholder], dim=-2)
        return x, (placeholder, placeholder)


def pad_stack(tensors: Sequence[torch.Tensor], value: int | float = PAD) -> torch.Tensor:
    """Stack tensors of equal rank, padding every dimension on the right up to the largest."""
    shape = [max(t.shape[d] for t in tensors) for d in range(tensors[0].dim())]
    out = tensors[0].new_full((len(tensors), *shape), value)
    for i, t in enumerate(tensors):
        out[(i, *(slice(0, n) for n in t.shape))] = t
    return out


class MolmoAdapter(ModelAdapter):
    name = "molmo"
    model_types = ("molmo", "molmoe")
    architectures = ("MolmoForCausalLM", "MOLMoForCausalLM", "OLMoForCausalLM")
    remote_code = True
    # Its published generate keeps its own cache, which the fused engine cannot feed.
    fuses = False
    block_paths = {
        "language": ("model.transformer.blocks",),
        "vision": ("model.vision_backbone.image_vit.transformer.resblocks",),
    }
    # allenai/Molmo-7B-D-0924: model.vision_backbone.image_vit.…, the connector image_pooling_2d /
    # image_projector, model.transformer.blocks.N, embeddings transformer.wte, head transformer.ff_out (or lm_head).
    modality_patterns = {
        "vision": (r"(^|\.)vision_backbone\.image_vit\.",),
        "fusion": (r"(^|\.)vision_backbone\.(image_pooling_2d|image_projector)\.", r"(^|\.)transformer\.blocks\.\d+\."),
        "text": (r"(^|\.)transformer\.wte\.", r"(^|\.)transformer\.ff_out\.", r"(^|\.)lm_head\."),
    }
    modality_exclude = (r"embed", r"(^|\.)wte\.", r"(^|\.)transformer\.ff_out\.", r"(^|\.)lm_head\.", r"norm",
                        r"(^|\.)ln_", r"\.bias$")

    def __init__(self, model: nn.Module, processor: Any, *, component: str = "language", block_path: str | None = None) -> None:
        super().__init__(model, processor, component=component, block_path=block_path)
        # Vision blocks (ResidualAttentionBlock) return a tensor; decoder blocks a tuple.
        self.returns_tuple = self.component == "language"

    @classmethod
    def count_blocks(cls, config: dict[str, Any], component: str) -> int:
        if component == "language":
            for key in ("n_layers", "num_hidden_layers"):
                if key in config:
                    return int(config[key])
        else:
            vision = config.get("vision_backbone") or {}
            for key in ("image_num_layers", "num_hidden_layers"):
                if key in vision:
                    return int(vision[key])
        raise ModelError(f"config.json does not say how many {component} blocks this Molmo checkpoint has")

    def skip(self, removed: Iterable[int]) -> AbstractContextManager[None]:
        if self.component == "language":
            return skip_blocks(self.blocks, removed, stand_in=MolmoPassThroughBlock)
        return skip_blocks(self.blocks, removed)

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)

    def prompt(self, question: str, style: str, choices: Sequence[str] = ()) -> str:
        return molmo_prompt(question, style, choices)

    def encode(self, records: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        samples = []
        for r in records:
            # The prompt already is Molmo's " User: … Assistant:"; the processor must not wrap it again.
            sample = self.processor.process(
                images=[r["image"].convert("RGB")],
                text=self.prompt(r["question"], r["style"], r.get("choices") or ()),
                message_format="none",
                always_start_with_space=False,
            )
            samples.append({k: torch.as_tensor(v) for k, v in sample.items()})
        dtype = next(self.model.parameters()).dtype
        batch = {}
        for key in samples[0]:
            stacked = pad_stack([s[key] for s in samples])
            batch[key] = stacked.to(self.device, dtype) if stacked.is_floating_point() else stacked.to(self.device)
        return batch

    def clean_answer(self, generation: str) -> str:
        return molmo_answer(generation)

    def decode(self, generated: torch.Tensor) -> list[str]:
        generated = generated.clamp(min=0)
        return [text.strip() for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)]

    @torch.inference_mode()
    def generate(self, records: Sequence[dict[str, Any]], max_new_tokens: int) -> list[str]:
        return self.generate_encoded(self.encode(records), max_new_tokens)

    def pre_encode(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Molmo's remote code takes no precomputed image features: the inputs as they are."""
        return dict(inputs)

    @torch.inference_mode()
    def generate_encoded(self, inputs: dict[str, Any], max_new_tokens: int) -> list[str]:
        from transformers import GenerationConfig

        config = GenerationConfig(max_new_tokens=max_new_tokens, stop_strings=MOLMO_STOP_STRING, do_sample=False, use_cache=True)
        with molmo_index_add_fix():
            output = self.model.generate_from_batch(inputs, config, tokenizer=self.tokenizer)
        return self.decode(output[:, inputs["input_ids"].shape[1] :])
