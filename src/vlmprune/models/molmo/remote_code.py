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
  stop_strings="<|endoftext|>"), tokenizer=processor.tokenizer)`` (the model card's call; the
  adapter stops at that token's id instead, see :meth:`MolmoAdapter.generate_encoded`).

On transformers 5 the published code fails at ``from_pretrained`` (``load_adapter`` says so
clearly) and inside ``generate``; tiny checkpoints in the published layout, and reference
outputs of the published code, are in ``tests/data/molmo_*``.

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
from vlmprune.models.molmo.configuration import PUBLISHED_VISION
from vlmprune.models.molmo.remote_code_fixes import molmo_index_add_fix
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

    def forward(
        self,
        x: torch.Tensor,
        *args: object,
        layer_past: Any = None,
        use_cache: bool = False,
        **kwargs: object,
    ):
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


def stop_token_id(tokenizer: Any) -> int:
    """Id of ``<|endoftext|>``, one token in the tokenizers of every published Molmo v1 (OLMoE's and Qwen2's)."""
    token = tokenizer.convert_tokens_to_ids(MOLMO_STOP_STRING)
    if token is None or tokenizer.convert_ids_to_tokens(token) != MOLMO_STOP_STRING:
        raise ModelError(
            f"the tokenizer of this Molmo checkpoint has no {MOLMO_STOP_STRING!r} token to stop generation at"
        )
    return int(token)


def park_unused_patches(
    input_ids: torch.Tensor, image_input_idx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Point every image patch that has no token (``-100`` from the processor, ``-1`` padding) at a padding token.

    The published revisions place patch features with flat offsets ``index + sample * length``:
    some filter negative indices only after adding the offset (so ``-1`` lands on the previous
    sample's last token), older ones not at all (``-100`` is out of bounds). A padding position
    is masked out of attention and its output never read, so a feature added there changes
    nothing in any revision. One padding column is appended, so every sample has one.
    """
    unused = image_input_idx < 0
    if not unused.any():
        return input_ids, image_input_idx
    input_ids = torch.cat([input_ids, input_ids.new_full((input_ids.shape[0], 1), PAD)], dim=1)
    return input_ids, image_input_idx.masked_fill(unused, input_ids.shape[1] - 1)


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
        "fusion": (
            r"(^|\.)vision_backbone\.(image_pooling_2d|image_projector)\.",
            r"(^|\.)transformer\.blocks\.\d+\.",
        ),
        "text": (r"(^|\.)transformer\.wte\.", r"(^|\.)transformer\.ff_out\.", r"(^|\.)lm_head\."),
    }
    modality_exclude = (
        r"embed",
        r"(^|\.)wte\.",
        r"(^|\.)transformer\.ff_out\.",
        r"(^|\.)lm_head\.",
        r"norm",
        r"(^|\.)ln_",
        r"\.bias$",
    )

    def __init__(
        self,
        model: nn.Module,
        processor: Any,
        *,
        component: str = "language",
        block_path: str | None = None,
    ) -> None:
        super().__init__(model, processor, component=component, block_path=block_path)
        # Vision blocks (ResidualAttentionBlock) return a tensor; decoder blocks a tuple.
        self.returns_tuple = self.component == "language"

    @classmethod
    def count_blocks(cls, config: dict[str, Any], component: str) -> int:
        """Blocks per component, from either published ``config.json`` layout.

        MolmoE-1B writes OLMo's keys (``n_layers``, ``vision_backbone.image_num_layers``);
        Molmo-7B-D/-O write ``num_hidden_layers`` and no vision section at all: their
        ``modeling_molmo.py`` builds the tower with a fixed ``VisionBackboneConfig(...,
        image_num_layers=23, ...)`` in ``MolmoForCausalLM.__init__`` (CLIP ViT-L/14-336
        without its last layer, features read at ``vit_layers=[-2, -9]``).
        """
        if component == "language":
            for key in ("n_layers", "num_hidden_layers"):
                if key in config:
                    return int(config[key])
        else:
            vision = config.get("vision_backbone")
            if vision is None and "num_hidden_layers" in config:
                return int(PUBLISHED_VISION["image_num_layers"])
            for key in ("image_num_layers", "num_hidden_layers"):
                if key in (vision or {}):
                    return int(vision[key])
        raise ModelError(
            f"config.json does not say how many {component} blocks this Molmo checkpoint has"
        )

    def skip(self, removed: Iterable[int]) -> AbstractContextManager[None]:
        if self.component == "language":
            return skip_blocks(self.blocks, removed, stand_in=MolmoPassThroughBlock)
        return skip_blocks(self.blocks, removed)

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)

    def prompt(
        self, question: str, style: str, choices: Sequence[str] = (), context: str = ""
    ) -> str:
        return molmo_prompt(question, style, choices, context)

    def encode(self, records: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        samples = []
        for r in records:
            # The prompt already is Molmo's " User: … Assistant:"; the processor must not wrap it again.
            sample = self.processor.process(
                images=[r["image"].convert("RGB")],
                text=self.prompt(
                    r["question"], r["style"], r.get("choices") or (), r.get("context") or ""
                ),
                message_format="none",
                always_start_with_space=False,
            )
            samples.append({k: torch.as_tensor(v) for k, v in sample.items()})
        dtype = next(self.model.parameters()).dtype
        batch = {key: pad_stack([s[key] for s in samples]) for key in samples[0]}
        if "image_input_idx" in batch:
            batch["input_ids"], batch["image_input_idx"] = park_unused_patches(
                batch["input_ids"], batch["image_input_idx"]
            )
        return {
            k: v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device)
            for k, v in batch.items()
        }

    def stop_token_id(self) -> int:
        return stop_token_id(self.tokenizer)

    def clean_answer(self, generation: str) -> str:
        return molmo_answer(generation)

    def decode(self, generated: torch.Tensor) -> list[str]:
        generated = generated.clamp(min=0)
        return [
            text.strip()
            for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        ]

    @torch.inference_mode()
    def generate(self, records: Sequence[dict[str, Any]], max_new_tokens: int) -> list[str]:
        return self.generate_encoded(self.encode(records), max_new_tokens)

    def pre_encode(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Molmo's remote code takes no precomputed image features: the inputs as they are."""
        return dict(inputs)

    @torch.inference_mode()
    def generate_encoded(self, inputs: dict[str, Any], max_new_tokens: int) -> list[str]:
        from transformers import GenerationConfig

        # Stopping at the end-of-text token rather than at the stop string: transformers' stop-string check
        # embeds every prompt id, and the prompts of a batch are padded with -1.
        stop = self.stop_token_id()
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            eos_token_id=stop,
            pad_token_id=stop,
            do_sample=False,
            use_cache=True,
        )
        with molmo_index_add_fix():
            output = self.model.generate_from_batch(inputs, config, tokenizer=self.tokenizer)
        return self.decode(output[:, inputs["input_ids"].shape[1] :])
