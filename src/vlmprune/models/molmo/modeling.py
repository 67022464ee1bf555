"""Molmo v1 (Molmo-7B-D/-O, MolmoE-1B) written for transformers 5: the published weights, standard
``Cache``.

The modules carry the published parameter names (``model.transformer.blocks.N.att_proj``,
``model.vision_backbone.image_vit.…``), so ``from_pretrained`` reads a hub snapshot's
safetensors as they are and no code from the checkpoint runs. What differs from the
published code is only the plumbing: decoder blocks return a tensor and write keys and values
through ``Cache.update``, the mask comes from ``create_causal_mask``, and generation is
``GenerationMixin.generate``. The mathematics follows ``modeling_molmo.py`` of
``allenai/Molmo-7B-D-0924`` (checked against its outputs: ``tests/test_molmo_modeling.py``):

- decoder block: RMS norm, fused ``att_proj`` (q, k, v; bias per ``qkv_bias``, clamped by
  ``clip_qkv``), RMS norms over all queries and all keys (``attention_layer_norm``), rotary
  embedding in float32 with halves rotated ("llama"; none with ``rope: false``), grouped-query
  attention, ``attn_out``; RMS norm, ``ff_proj`` whose first half is the value and second half
  the SiLU gate, ``ff_out``; with ``norm_after`` (Molmo-7B-O) the two norms follow attention and
  MLP instead;
- embeddings: ``wte.embedding`` followed by 128 ``wte.new_embedding`` rows (image tokens);
- vision: a CLIP ViT (``quick_gelu``) whose hidden states after layers ``vit_layers`` (-2 and
  -9: the published tower's last block feeds no feature) are concatenated, crops that are all
  padding (-1) zeroed, learnt embeddings added for patches that are padding or partly padding
  (``image_masks``), 2x2 patches pooled by attention with their mean as query, a SwiGLU
  projector, and the result added to the embeddings at ``image_input_idx`` (negative entries:
  no token), then scaled by sqrt(hidden) with ``normalize_input_embeds``;
- logits scaled by 1/sqrt(hidden) (``scale_logits``) and soft-capped (``final_logit_softcapping``).

Which config.json values are implemented: :mod:`vlmprune.models.molmo.configuration`.

MolmoE-1B (``config.json`` in OLMo's names) has mixture-of-experts blocks instead: a softmax
router whose top-k experts (SwiGLU, ``gate_proj`` / ``up_proj`` / ``down_proj``) are weighted by
their router probabilities; its names follow the seed experiments' copy of ``modeling_molmoe.py``
(``ChulanZhang/molmo_hf``): ``blocks.N.attn.…``,
``blocks.N.mlp.experts.E.…``, ``lm_head``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import create_causal_mask
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from vlmprune.models.molmo.configuration import ADDITIONAL_VOCAB, MolmoNativeConfig


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class Embedding(nn.Module):
    """The vocabulary's rows, then the image tokens' rows (``new_embedding``)."""

    def __init__(self, rows: int, extra: int, width: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.zeros(rows, width))
        self.new_embedding = nn.Parameter(torch.zeros(extra, width))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, torch.cat([self.embedding, self.new_embedding], dim=0))


class Attention(nn.Module):
    """Fused ``att_proj`` (q, k, v), ``clip_qkv``, q/k RMS norms over all heads
    (``attention_layer_norm``), rotary embedding in float32 unless ``rope`` is off, grouped-query
    attention with keys and values through ``Cache.update``; the heads side by side (before
    ``attn_out``)."""

    def __init__(self, config: MolmoNativeConfig, layer_idx: int) -> None:
        super().__init__()
        d, heads, kv = config.hidden_size, config.num_attention_heads, config.num_key_value_heads
        self.layer_idx, self.head_dim, self.clip_qkv = layer_idx, config.head_dim, config.clip_qkv
        self.fused_dims = (d, kv * self.head_dim, kv * self.head_dim)
        self.num_key_value_groups, self.is_causal = heads // kv, True
        self.scaling = self.head_dim**-0.5
        self.att_proj = nn.Linear(d, sum(self.fused_dims), bias=config.qkv_bias)
        self.q_norm = self.k_norm = None
        if config.attention_layer_norm:
            self.q_norm = RMSNorm(d, config.layer_norm_eps)
            self.k_norm = RMSNorm(kv * self.head_dim, config.layer_norm_eps)

    def attend(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None,
        past_key_values: Cache | None,
    ) -> torch.Tensor:
        batch, length = x.shape[:2]
        qkv = self.att_proj(x)
        if self.clip_qkv is not None:
            qkv = qkv.clamp(min=-self.clip_qkv, max=self.clip_qkv)
        q, k, v = qkv.split(self.fused_dims, dim=-1)
        if self.q_norm is not None:
            q, k = self.q_norm(q).to(k.dtype), self.k_norm(k).to(k.dtype)
        q, k, v = (t.view(batch, length, -1, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if position_embeddings is not None:  # rotated in float32, as rope_full_precision does
            rotated = apply_rotary_pos_emb(q.float(), k.float(), *position_embeddings)
            q, k = rotated[0].to(q.dtype), rotated[1].to(k.dtype)
        if past_key_values is not None:
            k, v = past_key_values.update(k, v, self.layer_idx)
        attention, _ = sdpa_attention_forward(self, q, k, v, attention_mask, scaling=self.scaling)
        return attention.reshape(batch, length, -1)


class MolmoDecoderBlock(Attention):
    """One language block of the 7B-D layout; returns the hidden states.

    Norms before attention and MLP, or after them (``norm_after``, Molmo-7B-O's OLMo decoder);
    ``ff_proj``'s first half is the value, its second half the SiLU gate.
    """

    def __init__(self, config: MolmoNativeConfig, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        d = config.hidden_size
        self.norm_after = config.norm_after
        self.attn_norm = RMSNorm(d, config.layer_norm_eps)
        self.ff_norm = RMSNorm(d, config.layer_norm_eps)
        self.attn_out = nn.Linear(d, d, bias=False)
        self.ff_proj = nn.Linear(d, config.intermediate_size, bias=False)
        self.ff_out = nn.Linear(config.intermediate_size // 2, d, bias=False)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        past_key_values: Cache | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        x = hidden_states
        inputs = x if self.norm_after else self.attn_norm(x)
        attention = self.attn_out(
            self.attend(inputs, attention_mask, position_embeddings, past_key_values)
        )
        x = x + (self.attn_norm(attention) if self.norm_after else attention)
        value, gate = self.ff_proj(x if self.norm_after else self.ff_norm(x)).chunk(2, dim=-1)
        mlp = self.ff_out(F.silu(gate) * value)
        return x + (self.ff_norm(mlp) if self.norm_after else mlp)


class MolmoeAttention(Attention):
    """MolmoE's attention: RMS norm, then :class:`Attention`, then ``attn_out``."""

    def __init__(self, config: MolmoNativeConfig, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        d = config.hidden_size
        self.attn_norm = RMSNorm(d, config.layer_norm_eps)
        self.attn_out = nn.Linear(d, d, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None,
        past_key_values: Cache | None,
    ) -> torch.Tensor:
        return self.attn_out(
            self.attend(self.attn_norm(x), attention_mask, position_embeddings, past_key_values)
        )


class Expert(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(width, hidden, bias=False)
        self.up_proj = nn.Linear(width, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class SparseMoe(nn.Module):
    """RMS norm, a softmax router, the top-k experts weighted by their (not renormalised) router
    probabilities."""

    def __init__(self, config: MolmoNativeConfig) -> None:
        super().__init__()
        self.top_k = config.moe_top_k
        self.gate = nn.Linear(config.hidden_size, config.moe_num_experts, bias=False)
        self.experts = nn.ModuleList(
            Expert(config.hidden_size, config.intermediate_size // 2)
            for _ in range(config.moe_num_experts)
        )
        self.ff_norm = RMSNorm(config.hidden_size, config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = self.ff_norm(x).flatten(0, 1)
        weights, chosen = F.softmax(self.gate(flat), dim=-1, dtype=torch.float).topk(
            self.top_k, dim=-1
        )
        weights = weights.to(flat.dtype)
        out = torch.zeros_like(flat)
        for index, expert in enumerate(self.experts):
            rows, slot = torch.where(chosen == index)
            if rows.numel():
                out.index_add_(0, rows, expert(flat[rows]) * weights[rows, slot, None])
        return out.view_as(x)


class MolmoeDecoderBlock(nn.Module):
    """One MolmoE language block (``attn``, ``mlp``); returns the hidden states, writes through
    ``Cache.update``."""

    def __init__(self, config: MolmoNativeConfig, layer_idx: int) -> None:
        super().__init__()
        self.attn = MolmoeAttention(config, layer_idx)
        self.mlp = SparseMoe(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        past_key_values: Cache | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        x = hidden_states + self.attn(
            hidden_states, attention_mask, position_embeddings, past_key_values
        )
        return x + self.mlp(x)


class DotProductAttention(nn.Module):
    """The vision tower's (and the pooling's) attention: biased projections, no mask."""

    def __init__(self, inputs: int, heads: int, kv_heads: int, head_dim: int, width: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.wq = nn.Linear(inputs, heads * head_dim)
        self.wk = nn.Linear(inputs, kv_heads * head_dim)
        self.wv = nn.Linear(inputs, kv_heads * head_dim)
        self.wo = nn.Linear(heads * head_dim, width)

    def forward(self, query: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        keys = query if keys is None else keys
        q = self.wq(query).unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)
        k = self.wk(keys).unflatten(-1, (self.kv_heads, self.head_dim)).transpose(1, 2)
        v = self.wv(keys).unflatten(-1, (self.kv_heads, self.head_dim)).transpose(1, 2)
        if self.heads != self.kv_heads:
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        out = F.scaled_dot_product_attention(q.float(), k.float(), v.float()).to(query.dtype)
        return self.wo(out.transpose(1, 2).flatten(2))


class VisionMLP(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.w1, self.w2 = nn.Linear(width, hidden), nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.w1(x)
        return self.w2(x * torch.sigmoid(1.702 * x))  # quick_gelu


class VisionBlock(nn.Module):
    """One vision block (a tensor in, a tensor out)."""

    def __init__(self, v: dict) -> None:
        super().__init__()
        width = v["image_emb_dim"]
        self.attention = DotProductAttention(
            width, v["image_num_heads"], v["image_num_key_value_heads"], v["image_head_dim"], width
        )
        self.feed_forward = VisionMLP(width, v["image_mlp_dim"])
        self.attention_norm = nn.LayerNorm(width, eps=v["image_norm_eps"])
        self.ffn_norm = nn.LayerNorm(width, eps=v["image_norm_eps"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x))
        return x + self.feed_forward(self.ffn_norm(x))


class BlockList(nn.Module):
    def __init__(self, v: dict) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(VisionBlock(v) for _ in range(v["image_num_layers"]))


class VisionTransformer(nn.Module):
    def __init__(self, v: dict) -> None:
        super().__init__()
        width = v["image_emb_dim"]
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(v["image_num_pos"], width))
        self.patch_embedding = nn.Linear(v["image_patch_size"] ** 2 * 3, width, bias=False)
        self.pre_ln = nn.LayerNorm(width, eps=v["image_norm_eps"])
        self.transformer = BlockList(v)

    def forward(self, patches: torch.Tensor, grid: tuple[int, int]) -> list[torch.Tensor]:
        x = self.patch_embedding(patches)
        x = torch.cat([self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1), x], dim=1)
        position = self.positional_embedding[1:]
        side = int(position.shape[0] ** 0.5)
        position = position.reshape(side, side, -1)
        if (side, side) != grid:
            position = F.interpolate(
                position.permute(2, 0, 1)[None],
                size=grid,
                mode="bicubic",
                align_corners=False,
                antialias=True,
            )[0].permute(1, 2, 0)
        x = x + torch.cat(
            [self.positional_embedding[:1], position.reshape(-1, position.shape[-1])]
        )[None].to(x.dtype)
        x = F.layer_norm(
            x.float(),
            x.shape[-1:],
            self.pre_ln.weight.float(),
            self.pre_ln.bias.float(),
            self.pre_ln.eps,
        ).to(x.dtype)
        states = []
        for block in self.transformer.resblocks:
            x = block(x)
            states.append(x)
        return states


class ImageProjector(nn.Module):
    def __init__(self, inputs: int, hidden: int, width: int) -> None:
        super().__init__()
        self.w1, self.w3 = (
            nn.Linear(inputs, hidden, bias=False),
            nn.Linear(inputs, hidden, bias=False),
        )
        self.w2 = nn.Linear(hidden, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class VisionBackbone(nn.Module):
    def __init__(self, config: MolmoNativeConfig) -> None:
        super().__init__()
        v = config.vision_backbone
        width = v["image_emb_dim"]
        self.grid = tuple(size // v["image_patch_size"] for size in v["image_default_input_size"])
        self.image_vit = VisionTransformer(v)
        self.config = config  # read at each call: deleting blocks remaps config.vit_layers
        self.image_pooling_2d = DotProductAttention(
            width * len(config.vit_layers),
            v["image_num_heads"],
            v["image_num_key_value_heads"],
            v["image_head_dim"],
            width,
        )
        self.image_projector = ImageProjector(
            width, config.intermediate_size // 2, config.hidden_size
        )
        self.pad_embed = nn.Parameter(torch.zeros(2, width * len(config.vit_layers)))

    def forward(self, images: torch.Tensor, image_masks: torch.Tensor) -> torch.Tensor:
        """``(batch, crops, patches, pixels)`` -> ``(batch, crops, pooled tokens, hidden)``."""
        batch, crops, patches, pixels = images.shape
        flat = images.reshape(batch * crops, patches, pixels)
        real = ~(flat == -1).all(dim=(1, 2), keepdim=True)  # crops that are all padding give zeros
        states = self.image_vit(flat, self.grid)
        features = (
            torch.cat([states[layer] for layer in self.config.vit_layers], dim=-1)[:, 1:] * real
        )
        features = features.view(batch, crops, patches, -1)
        pad = (image_masks == 0).to(features.dtype)
        partial = ((image_masks < 1) & (image_masks != 0)).to(features.dtype)
        features = (
            features + self.pad_embed[0] * pad[..., None] + self.pad_embed[1] * partial[..., None]
        )
        h, w = self.grid
        features = features.view(batch, crops, h, w, -1)
        if h % 2 == 1:
            features = F.pad(features, (0, 0, 0, 1, 0, 1))
            h, w = h + 1, w + 1
        windows = (
            features.view(batch, crops, h // 2, 2, w // 2, 2, -1)
            .permute(0, 1, 2, 4, 3, 5, 6)
            .reshape(-1, 4, features.shape[-1])
        )
        pooled = self.image_pooling_2d(windows.mean(-2, keepdim=True), windows)
        return self.image_projector(pooled.view(batch, crops, (h // 2) * (w // 2), -1))


class MolmoNativeModel(nn.Module):
    def __init__(self, config: MolmoNativeConfig) -> None:
        super().__init__()
        self.config = config
        block = MolmoeDecoderBlock if config.moe_num_experts else MolmoDecoderBlock
        self.transformer = nn.ModuleDict(
            {
                "wte": Embedding(config.embedding_size, ADDITIONAL_VOCAB, config.hidden_size),
                "blocks": nn.ModuleList(block(config, i) for i in range(config.num_hidden_layers)),
                "ln_f": RMSNorm(config.hidden_size, config.layer_norm_eps),
            }
        )
        if not config.moe_num_experts:  # 7B-D's output layer; MolmoE's is the top-level lm_head
            self.transformer["ff_out"] = nn.Linear(
                config.hidden_size, config.embedding_size, bias=False
            )
        self.vision_backbone = VisionBackbone(config)

    def rotary(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cosines and sines (float32) of the positions; the blocks rotate in float32."""
        dim = self.config.head_dim
        inv_freq = 1.0 / (
            self.config.rope_theta
            ** (torch.arange(0, dim, 2, device=position_ids.device, dtype=torch.float) / dim)
        )
        freqs = position_ids[..., None].float() * inv_freq
        angles = torch.cat([freqs, freqs], dim=-1)
        return angles.cos(), angles.sin()


class MolmoNativeForCausalLM(PreTrainedModel, GenerationMixin):
    config_class = MolmoNativeConfig
    base_model_prefix = "model"
    _no_split_modules = ["MolmoDecoderBlock", "VisionBlock"]
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: MolmoNativeConfig) -> None:
        config._attn_implementation = "sdpa"
        super().__init__(config)
        self.model = MolmoNativeModel(config)
        if config.moe_num_experts:
            self.lm_head = nn.Linear(config.hidden_size, config.embedding_size, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.model.transformer.wte

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Cache | None = None,
        images: torch.Tensor | None = None,
        image_masks: torch.Tensor | None = None,
        image_input_idx: torch.Tensor | None = None,
        image_features: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """``image_features``: the vision backbone's output for ``images``, when computed once for
        several passes."""
        transformer = self.model.transformer
        x = transformer.wte(input_ids.clamp(min=0))
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        if (
            images is not None and image_features is None and past == 0
        ):  # the image only at the prefill
            image_features = self.model.vision_backbone(images.to(x.dtype), image_masks.to(x.dtype))
        if image_features is not None and past == 0:
            features = image_features.flatten(1, 2)
            index = image_input_idx.flatten(1)
            valid = index >= 0
            rows = torch.arange(x.shape[0], device=x.device)[:, None].expand_as(index)
            x = x.clone()
            x[rows[valid], index[valid]] += features[valid]
        if self.config.normalize_input_embeds:
            x = x * (self.config.hidden_size**0.5)
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache(config=self.config)
        if position_ids is None:
            if attention_mask is not None:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -x.shape[1] :]
            else:
                position_ids = torch.arange(past, past + x.shape[1], device=x.device)[None]
        mask = create_causal_mask(
            config=self.config,
            inputs_embeds=x,
            attention_mask=attention_mask,
            past_key_values=past_key_values,
            position_ids=position_ids,
        )
        rotary = self.model.rotary(position_ids) if self.config.rope else None
        for block in transformer.blocks:
            x = block(
                x, attention_mask=mask, position_embeddings=rotary, past_key_values=past_key_values
            )
        x = transformer.ln_f(x)
        head = self.lm_head if self.config.moe_num_experts else transformer.ff_out
        logits = head(x[:, -logits_to_keep:] if logits_to_keep else x)
        if self.config.scale_logits:
            logits = logits * self.config.logit_scale
        if self.config.final_logit_softcapping is not None:
            cap = self.config.final_logit_softcapping
            logits = torch.tanh(logits / cap) * cap
        return CausalLMOutputWithPast(logits=logits, past_key_values=past_key_values)
