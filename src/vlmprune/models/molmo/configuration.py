"""Molmo v1's ``config.json``: what each field the published modelling code reads means natively.

Three layouts reach the native model (``docs/molmo.md`` has the table of every field):

- **7B-D layout** (Molmo-7B-D/-O, 72B: ``hidden_size``, ``num_attention_heads``, …): the published
  ``modeling_molmo.py`` builds its model from 14 of these fields and fixes everything else (the
  vision tower, rotary embeddings, no biases, no logit scaling, …);
- **MolmoE layout** (OLMo's names: ``d_model``, ``n_heads``, …): ``modeling_molmoe.py`` reads the
  whole OLMo model config;
- **native layout** (``architectures: ["MolmoNativeForCausalLM"]``): what
  :class:`MolmoNativeConfig` writes, i.e. an export.

A field value the native model does not implement is refused before any weight is read
(:func:`unimplemented_settings`), naming the field, its value and the way out; so is a value
the published code of that layout would ignore (its own code would run without it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from transformers import PretrainedConfig

#: The vision tower ``modeling_molmo.py`` builds for Molmo-7B-D/-O (in
#: ``MolmoForCausalLM.__init__``; their config.json has no vision section): CLIP ViT-L/14 at
#: 336 px without its last layer.
PUBLISHED_VISION = dict(
    image_default_input_size=[336, 336],
    image_patch_size=14,
    image_emb_dim=1024,
    image_num_heads=16,
    image_num_key_value_heads=16,
    image_num_layers=23,
    image_head_dim=64,
    image_mlp_dim=4096,
    image_num_pos=577,
    image_norm_eps=1e-5,
)
#: The tower's hidden states the features are read from (counted back from the last block).
VIT_LAYERS = (-2, -9)
ADDITIONAL_VOCAB = 128
NATIVE_ARCHITECTURE = "MolmoNativeForCausalLM"

WAY_OUT = (
    "remove each field named or give it the published checkpoints' value, or run the checkpoint's "
    "own code with model.adapter: molmo and model.trust_remote_code: true (under the transformers "
    "4.4x it was written for)"
)


def layout(config: dict[str, Any]) -> str:
    """``"molmoe"`` (OLMo's names), ``"native"`` (an export) or ``"7b-d"`` (hub Molmo-7B-D/-O)."""
    if "d_model" in config:
        return "molmoe"
    if NATIVE_ARCHITECTURE in (config.get("architectures") or ()):
        return "native"
    return "7b-d"


#: What the published modeling_molmo.py builds its model from (``MolmoForCausalLM.__init__``).
READ_BY_7B_D = frozenset(
    {
        "vocab_size",
        "embedding_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "max_position_embeddings",
        "layer_norm_eps",
        "rope_theta",
        "qkv_bias",
        "attention_layer_norm",
        "norm_after",
        "layer_norm_type",
    }
)


def _is(*values: Any) -> Callable[[Any], bool]:
    return lambda value: value in values


#: (field, accepted, the published code's value when the field is absent, why another value is
#: refused), per layout. 7B-D: what ``modeling_molmo.py`` fixes or ignores; MolmoE: the defaults of
#: ``modeling_molmoe.py``'s OLMo model config, which a config.json without the field gets.
_SEVEN_B_D = (
    ("layer_norm_type", _is("rms"), "rms", "its LayerNorm types are not implemented"),
    ("use_position_ids", _is(True), True, "without it the published generate cannot run"),
    ("weight_tying", _is(False), False, "the published code never ties the output layer"),
    ("tie_word_embeddings", _is(False), False, "the published code never ties the output layer"),
    ("clip_qkv", _is(None), None, "the published modeling_molmo.py never passes it on"),
    ("scale_logits", _is(False), False, "the published modeling_molmo.py fixes it off"),
    ("final_logit_softcapping", _is(None), None, "the published modeling_molmo.py never reads it"),
    ("normalize_input_embeds", _is(False), False, "the published modeling_molmo.py fixes it off"),
    ("rope", _is(True), True, "the published modeling_molmo.py fixes rotary embeddings on"),
    ("head_dim", _is(None), None, "the published modeling_molmo.py never reads it"),
    ("moe_num_experts", _is(0, None), 0, "experts come in MolmoE's layout only"),
    ("vit_layers", lambda v: list(v) == list(VIT_LAYERS), list(VIT_LAYERS), "fixed at [-2, -9]"),
)
_MOLMOE = (
    ("vision_backbone", lambda v: isinstance(v, dict), None, "a model without a vision tower"),
    ("block_type", _is("moe"), "moe", "allenai/molmo builds other blocks; the fork reads none"),
    ("moe_num_experts", lambda v: isinstance(v, int) and v > 0, 8, "MolmoE's blocks need experts"),
    ("moe_dropless", _is(True), True, "capacity-limited routing drops tokens"),
    ("moe_shared_expert", _is(False), False, "a shared expert is not implemented"),
    ("norm_after", _is(False), False, "the fork and allenai/molmo place the MoE norm differently"),
    (
        "layer_norm_type",
        _is("rms"),
        "rms",
        "the fork always uses RMS norms; others not implemented",
    ),
    (
        "layer_norm_eps",
        lambda v: v is not None,
        None,
        "the published code fails with a null epsilon",
    ),
    ("layer_norm_with_affine", _is(True), True, "norms without weights are not implemented"),
    ("attention_layer_norm_with_affine", _is(True), True, "q/k norms without weights"),
    ("include_bias", _is(False), True, "biases on every layer are not implemented"),
    ("bias_for_layer_norm", _is(False, None), None, "norm biases are not implemented"),
    ("weight_tying", _is(False), True, "the published code fails with it (no wte.weight)"),
    ("use_position_ids", _is(True), True, "positions without the attention mask"),
    ("use_cls_feature", _is(False), False, "the class-token feature is not implemented"),
    ("unconditioned", _is(False), False, "a model that drops its images"),
    ("additional_vocab_size", _is(ADDITIONAL_VOCAB), None, "other image vocabularies"),
    ("multi_query_attention", _is(None), None, "set n_kv_heads instead"),
    ("block_group_size", _is(1), 1, "grouped blocks are named differently"),
    ("rope_full_precision", _is(True), True, "rotary embeddings are applied in float32"),
    ("float32_attention", _is(True), True, "the tower's attention runs in float32"),
    ("image_pooling_h", _is(2), 2, "2x2 pooling only"),
    ("image_pooling_w", _is(2), 2, "2x2 pooling only"),
    ("activation_type", _is("swiglu"), "swiglu", "other activations are not implemented"),
    ("image_padding_embed", _is("pad_and_partial_pad"), None, "other padding embeddings"),
    ("image_pooling_2d", _is("attention-meanq", "attention_meanq"), "attention", "other pools"),
    ("image_projector", _is("mlp"), "mlp", "other projectors are not implemented"),
    ("rope_impl", _is("llama"), "cockatoo", "interleaved rotary embeddings are not implemented"),
)
#: The vision section of MolmoE's layout.
_VISION = (
    ("image_model_type", _is("openai"), "openai", "only the CLIP tower is implemented"),
    ("image_mlp_activations", _is("quick_gelu"), "gelu", "only quick_gelu is implemented"),
)


def unimplemented_settings(config: dict[str, Any]) -> list[str]:
    """One line per field of ``config.json`` whose value the native Molmo v1 does not implement."""
    kind = layout(config)
    if kind == "native":
        return []
    found = []

    def check(rules: tuple, section: dict, prefix: str = "") -> None:
        for field, accepted, default, why in rules:
            value = section.get(field, default)
            if not accepted(value):
                shown = value if field in section else f"absent, so {value!r}"
                found.append(f"{prefix}{field}: {shown!r} ({why})")

    if kind == "7b-d":
        check(_SEVEN_B_D, config)
        # OLMo's fields that modeling_molmo.py fixes, where a 7B-D-layout config.json names them
        own = READ_BY_7B_D | {rule[0] for rule in _SEVEN_B_D} | {"vision_backbone"}
        named = {field for field in config if field not in own}
        check(tuple(r for r in _MOLMOE if r[0] in named), config)
    else:
        check(_MOLMOE, config)
    if kind == "molmoe" and isinstance(config.get("vision_backbone"), dict):
        check(_VISION, config["vision_backbone"], "vision_backbone.")
    head_dim = config.get("head_dim")
    if (
        kind == "molmoe"
        and head_dim is not None
        and head_dim != config["d_model"] // config["n_heads"]
    ):
        found.append(
            f"head_dim: {head_dim!r} (the published code runs only with null or d_model / n_heads "
            f"= {config['d_model'] // config['n_heads']})"
        )
    return found


def from_molmoe_names(config: dict[str, Any]) -> dict[str, Any]:
    """MolmoE's config.json (OLMo's names) in :class:`MolmoNativeConfig`'s names; absent fields
    take OLMo's defaults."""
    config = dict(config)
    hidden = config.pop("d_model")
    translated = dict(
        hidden_size=hidden,
        num_attention_heads=config.pop("n_heads"),
        num_key_value_heads=config.pop("n_kv_heads", None),
        num_hidden_layers=config.pop("n_layers"),
        intermediate_size=config.pop("mlp_hidden_size", None)
        or config.pop("mlp_ratio", 4) * hidden,
        max_position_embeddings=config.pop("max_position_embeddings", None)
        or config.pop("max_sequence_length", 1024),
        vocab_size=config.pop("vocab_size", 50257),
        layer_norm_eps=config.pop("layer_norm_eps", None),
        rope_theta=config.pop("rope_theta", 10000.0),
        qkv_bias=config.pop("qkv_bias", False),
        rope=config.pop("rope", False),
        moe_num_experts=config.pop("moe_num_experts", 8),
        moe_top_k=config.pop("moe_top_k", 2),
        vit_layers=config.pop("vit_layers", [-1]),
    )
    translated["embedding_size"] = config.pop("embedding_size", 50304) or translated["vocab_size"]
    config.pop("head_dim", None)  # null or d_model / n_heads: the width (unimplemented_settings)
    config.pop("max_sequence_length", None)
    return {**config, **translated}


class MolmoNativeConfig(PretrainedConfig):
    """The fields of Molmo-7B-D's config.json (defaults: the published ``MolmoConfig``'s) plus those
    of MolmoE's the native model implements.

    ``from_dict`` translates a MolmoE-layout dict (OLMo's names); a ``vision_backbone`` section
    overrides the tower. Whether a value is implemented is :func:`unimplemented_settings`'
    question, asked before this class is built.
    """

    model_type = "molmo"

    def __init__(
        self,
        vocab_size: int = 50304,
        embedding_size: int = 50304,
        hidden_size: int = 4096,
        intermediate_size: int = 11008,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = None,
        max_position_embeddings: int = 2048,
        layer_norm_eps: float | None = 1e-5,
        rope_theta: float = 10000.0,
        qkv_bias: bool = False,
        vision_backbone: dict | None = None,
        moe_num_experts: int | None = 0,
        moe_top_k: int | None = 0,
        attention_layer_norm: bool = False,
        norm_after: bool = False,
        clip_qkv: float | None = None,
        rope: bool = True,
        normalize_input_embeds: bool = False,
        scale_logits: bool = False,
        final_logit_softcapping: float | None = None,
        vit_layers: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("head_dim", None)  # a 7B-D-layout config.json with one is refused
        kwargs.pop("auto_map", None)  # the published code's classes: not this model's
        self.vocab_size, self.embedding_size = vocab_size, embedding_size
        self.hidden_size, self.intermediate_size = hidden_size, intermediate_size
        self.num_hidden_layers, self.num_attention_heads = num_hidden_layers, num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        # The published norms fall back to 1e-5 for a null epsilon (``layer_norm_eps or eps``).
        self.layer_norm_eps = layer_norm_eps or 1e-5
        self.rope_theta, self.qkv_bias, self.rope = rope_theta, qkv_bias, rope
        self.moe_num_experts, self.moe_top_k = moe_num_experts or 0, moe_top_k or 0
        self.attention_layer_norm, self.norm_after = attention_layer_norm, norm_after
        self.clip_qkv, self.normalize_input_embeds = clip_qkv, normalize_input_embeds
        self.scale_logits, self.final_logit_softcapping = scale_logits, final_logit_softcapping
        self.vision_backbone = {**PUBLISHED_VISION, **(vision_backbone or {})}
        self.vit_layers = list(VIT_LAYERS if vit_layers is None else vit_layers)
        self._check()
        self.head_dim = hidden_size // num_attention_heads
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(**kwargs)

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> Any:
        if layout(config_dict) == "molmoe":
            config_dict = from_molmoe_names(config_dict)
        return super().from_dict(config_dict, **kwargs)

    def _check(self) -> None:
        layers = self.vision_backbone["image_num_layers"]
        if not all(isinstance(i, int) and -layers <= i < 0 for i in self.vit_layers):
            raise ValueError(
                f"vit_layers {self.vit_layers} must count back from the tower's last block "
                f"(-1, -2, …), within its {layers} blocks"
            )
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}"
            )
        if self.moe_num_experts and self.norm_after:
            raise ValueError("norm_after: true with mixture-of-experts blocks is not implemented")
        if self.clip_qkv is not None and not self.clip_qkv > 0:
            raise ValueError(f"clip_qkv must be positive or null, not {self.clip_qkv!r}")
        if self.final_logit_softcapping is not None and not self.final_logit_softcapping > 0:
            raise ValueError(
                "final_logit_softcapping must be positive or null, "
                f"not {self.final_logit_softcapping!r}"
            )

    @property
    def logit_scale(self) -> float:
        """What ``scale_logits`` multiplies the logits by (``1 / sqrt(d_model)``), else one."""
        return 1 / math.sqrt(self.hidden_size) if self.scale_logits else 1.0
