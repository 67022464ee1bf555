"""Adapters: tiny random checkpoints of each native family, Molmo v1 through stand-ins, bad input.

LLaVA and Idefics3 end to end here; ``test_architectures.py`` runs every architecture through
its real processor (block 0, a middle block and the last block against the physically smaller
model, fused against per-variant, vision ablation).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from vlmprune.errors import ModelError
from vlmprune.models.base import ModelAdapter, module_at
from vlmprune.models.chat_template import GenericAdapter
from vlmprune.models.loading import ADAPTERS, adapter_class, load_adapter
from vlmprune.models.molmo.adapter import MolmoNativeAdapter
from vlmprune.models.molmo.remote_code import MolmoAdapter, molmo_answer

WORDS = (
    "what color is the shape ? which how many answer question using a single word or "
    "phrase . red blue green circle"
)


def word_tokenizer(special: list[str], **kwargs):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate([*special, "[UNK]", *sorted(set(WORDS.split()))])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")]
    )
    tokenizer.add_special_tokens(special)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", padding_side="left", **kwargs
    )


def records(n: int = 2) -> list[dict]:
    colours = [(255, 0, 0), (0, 0, 255), (0, 255, 0)]
    return [
        {
            "image": Image.new("RGB", (40 + 8 * i, 48), colours[i % 3]),
            "question": "what color is the shape?",
            "answers": ["red"],
            "style": "vqa2",
            "choices": None,
        }
        for i in range(n)
    ]


def physically_removed(model: nn.Module, blocks_path: str, block: int) -> nn.Module:
    """A deep copy with the block deleted and the later layers (and per-layer tables) renumbered."""
    model = copy.deepcopy(model)
    text = module_at(model, blocks_path.rsplit(".", 1)[0])
    del text.layers[block]
    for index, layer in enumerate(text.layers):
        layer.self_attn.layer_idx = index
    text.config.num_hidden_layers -= 1
    if getattr(text.config, "layer_types", None):
        text.config.layer_types = (
            text.config.layer_types[:block] + text.config.layer_types[block + 1 :]
        )
    if hasattr(text, "rope_types"):  # Molmo2: scaled or unscaled rotary table per layer
        text.rope_types = text.rope_types[:block] + text.rope_types[block + 1 :]
    return model


def greedy(model, inputs):
    out = model.generate(
        **inputs,
        max_new_tokens=4,
        min_new_tokens=4,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
    )
    return out.sequences, torch.stack(out.logits)


@torch.inference_mode()
def check_removal_equals_physical(adapter, inputs, blocks_path):
    full, full_scores = greedy(adapter.model, inputs)
    for block in (0, len(adapter.blocks) // 2, len(adapter.blocks) - 1):
        reference, reference_scores = greedy(
            physically_removed(adapter.model, blocks_path, block), inputs
        )
        with adapter.skip([block]):
            tokens, scores = greedy(adapter.model, inputs)
        assert torch.equal(tokens, reference), f"block {block}"
        torch.testing.assert_close(scores, reference_scores, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(scores, full_scores)
    again, _ = greedy(adapter.model, inputs)
    assert torch.equal(again, full)


# ---------------------------------------------------------------- native: LLaVA, Idefics3


def save_tiny_llava(out: Path) -> Path:
    """Built here (not with the demo's builder) so that this test pins only the adapter."""
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tok = word_tokenizer(
        ["[PAD]", "[BOS]", "[EOS]", "<image>", "user", "assistant", ":"],
        pad_token="[PAD]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        extra_special_tokens=["<image>"],
    )
    images = CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tok,
        patch_size=16,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=16,
            projection_dim=32,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=128,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=4,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def save_tiny_idefics3(out: Path) -> Path:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    special = [
        "<|endoftext|>",
        "<|begin_of_text|>",
        "<end_of_utterance>",
        "<fake_token_around_image>",
        "<image>",
        "<global-img>",
        "user",
        "assistant",
        ":",
    ] + [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    tok = word_tokenizer(
        special,
        pad_token="<|endoftext|>",
        eos_token="<end_of_utterance>",
        bos_token="<|begin_of_text|>",
    )
    images = Idefics3ImageProcessorPil(
        do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32}
    )
    processor = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4)
    config = Idefics3Config(
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=256,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    torch.manual_seed(0)
    Idefics3ForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


@pytest.mark.parametrize("family", ["llava", "idefics3"])
def test_native_family_end_to_end(family, tmp_path):
    path = {"llava": save_tiny_llava, "idefics3": save_tiny_idefics3}[family](tmp_path / family)
    adapter = load_adapter(path, device="cpu", dtype="float32")
    assert adapter.name == family and adapter_class(path) is type(adapter)
    config = json.loads((path / "config.json").read_text())
    assert len(adapter.blocks) == type(adapter).count_blocks(config, "language")
    answers = adapter.generate(records(), max_new_tokens=3)
    inputs = adapter.encode(records())
    generated = adapter.model.generate(**inputs, max_new_tokens=3, do_sample=False)[
        :, inputs["input_ids"].shape[1] :
    ]
    assert answers == [
        a.strip() for a in adapter.processor.batch_decode(generated, skip_special_tokens=True)
    ]
    blocks_path = {"llava": "model.language_model.layers", "idefics3": "model.text_model.layers"}[
        family
    ]
    check_removal_equals_physical(adapter, adapter.encode(records()), blocks_path)
    vision = type(adapter)(adapter.model, adapter.processor, component="vision")
    assert len(vision.blocks) == type(vision).count_blocks(config, "vision")
    assert set(adapter.modality_patterns) <= {"vision", "fusion", "text"}
    assert list(GenericAdapter(adapter.model, adapter.processor).blocks) == list(adapter.blocks)


# ---------------------------------------------------------------- Molmo v1 (remote code) through
# stand-ins


class StandInMolmoBlock(nn.Module):
    """Molmo's block contract: ``(x, (k, v))`` with a legacy per-layer cache, positions from
    ``position_ids``."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(
        self,
        x,
        attention_bias=None,
        position_ids=None,
        drop_mask=None,
        layer_past=None,
        use_cache=False,
    ):
        q, k, v = self.qkv(x).unsqueeze(1).chunk(3, dim=-1)
        angle = position_ids[:, None, :, None].float() / 3.0
        q, k = q * torch.cos(angle), k * torch.cos(angle) + torch.sin(angle)
        if layer_past is not None:
            k, v = torch.cat([layer_past[0], k], dim=-2), torch.cat([layer_past[1], v], dim=-2)
        scores = (
            q @ k.transpose(-1, -2) / k.shape[-1] ** 0.5
            + attention_bias[:, :, -x.shape[1] :, : k.shape[-2]]
        )
        x = x + self.out((scores.softmax(-1) @ v).squeeze(1))
        return x, ((k, v) if use_cache else None)


class StandInMolmo(nn.Module):
    """``model.transformer.blocks``, a vision tower, and ``generate_from_batch`` as Molmo's remote
    code has them."""

    def __init__(self, vocab: int = 50, d: int = 16, n_layers: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.model = nn.Module()
        self.model.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(vocab, d),
                "blocks": nn.ModuleList(StandInMolmoBlock(d) for _ in range(n_layers)),
            }
        )
        self.model.vision_backbone = nn.Module()
        self.model.vision_backbone.image_vit = nn.Module()
        self.model.vision_backbone.image_vit.transformer = nn.Module()
        self.model.vision_backbone.image_vit.transformer.resblocks = nn.ModuleList(
            nn.Linear(12, 12) for _ in range(2)
        )
        self.project = nn.Linear(12, d)
        self.lm_head = nn.Linear(d, vocab)

    def step(
        self, input_ids, attention_mask, position_ids, past, images=None, image_input_idx=None
    ):
        batch, length = input_ids.shape
        past_length = past[0][0].size(-2) if past else 0
        x = self.model.transformer.wte(input_ids.clamp(min=0))
        if images is not None:
            feats = images
            for block in self.model.vision_backbone.image_vit.transformer.resblocks:
                feats = feats + torch.tanh(block(feats))
            feats = self.project(feats.clamp(min=-1)).flatten(
                1, 2
            )  # (batch, patches, d): a 3-D source
            index = (image_input_idx.flatten(1) + torch.arange(batch)[:, None] * length).flatten()
            x = x.clone().view(-1, x.shape[-1])
            x.index_add_(0, index, feats)  # needs the compat fix, as modeling_molmoe.py does
            x = x.view(batch, length, -1)
        total = past_length + length
        causal = torch.full((total, total), float("-inf")).triu(1)[None, None]
        bias = causal + (1.0 - attention_mask[:, None, None, :total].float()) * -1e9
        caches = []
        for i, block in enumerate(self.model.transformer.blocks):
            x, cache = block(
                x,
                attention_bias=bias,
                position_ids=position_ids,
                layer_past=past[i] if past else None,
                use_cache=True,
            )
            caches.append(cache)
        return self.lm_head(x), caches

    @torch.no_grad()
    def generate_from_batch(self, batch, generation_config, tokenizer=None):
        input_ids = batch["input_ids"]
        valid = input_ids != -1
        positions = (valid.long().cumsum(-1) - 1).clamp(min=0)
        last = valid.sum(-1) - 1
        mask = torch.cat(
            [valid, valid.new_ones(input_ids.shape[0], generation_config.max_new_tokens)], dim=1
        )
        logits, past = self.step(
            input_ids, mask, positions, None, batch["images"], batch["image_input_idx"]
        )
        logits = logits[torch.arange(len(last)), last][:, None]
        out, position = [input_ids], positions.gather(1, last[:, None])
        self.scores = []
        for _ in range(generation_config.max_new_tokens):
            self.scores.append(logits[:, -1])
            token = logits[:, -1].argmax(-1, keepdim=True)
            out.append(token)
            position = position + 1
            logits, past = self.step(token, mask, position, past)
        return torch.cat(out, dim=1)


class StandInMolmoProcessor:
    """``process`` gives one sample's unbatched tensors; the prompt must arrive already
    formatted."""

    class tokenizer:
        @staticmethod
        def batch_decode(ids, skip_special_tokens=True):
            return [" ".join(f"t{int(i)}" for i in row) for row in ids]

        @staticmethod
        def convert_tokens_to_ids(token):
            return 0

        @staticmethod
        def convert_ids_to_tokens(token):
            return "<|endoftext|>"

    def process(self, images, text, message_format, always_start_with_space):
        assert (
            message_format == "none" and not always_start_with_space and text.startswith(" User: ")
        )
        ids = torch.tensor([ord(c) % 50 for c in text])
        pixels = (
            torch.as_tensor(np.array(images[0].resize((2, 2))), dtype=torch.float32).flatten() / 255
        )
        return {
            "input_ids": ids,
            "images": pixels.view(1, 1, 12).repeat(1, 2, 1),
            "image_input_idx": torch.tensor([[1, 2]]),
            "image_masks": torch.ones(1, 2),
        }


def test_molmo_adapter_with_stand_ins():
    model = StandInMolmo()
    adapter = MolmoAdapter(model, StandInMolmoProcessor())
    assert adapter.prompt("What is it?", "vqa2") == " User: vqa2: What is it? Assistant:"
    assert len(adapter.blocks) == 3 and adapter.returns_tuple
    vision = MolmoAdapter(model, StandInMolmoProcessor(), component="vision")
    assert len(vision.blocks) == 2 and not vision.returns_tuple
    batch = [
        dict(r, question=q)
        for r, q in zip(
            records(3), ["what?", "what color is the big shape?", "how many?"], strict=True
        )
    ]
    full = adapter.generate(batch, max_new_tokens=4)
    full_scores = torch.stack(model.scores)
    assert len(full) == 3 and all(len(a.split()) == 4 for a in full)
    for block in (0, 1, 2):
        physical = copy.deepcopy(model)
        del physical.model.transformer.blocks[block]
        reference = MolmoAdapter(physical, StandInMolmoProcessor()).generate(
            batch, max_new_tokens=4
        )
        reference_scores = torch.stack(physical.scores)
        with adapter.skip([block]):
            skipped = adapter.generate(batch, max_new_tokens=4)
        assert skipped == reference, f"block {block}"
        torch.testing.assert_close(torch.stack(model.scores), reference_scores)
        assert not torch.allclose(reference_scores, full_scores)
    assert adapter.generate(batch, max_new_tokens=4) == full
    assert torch.Tensor.index_add_.__name__ == "index_add_"  # the fix is gone after generate


class MultiCropProcessor(StandInMolmoProcessor):
    """A wide image gives two crops, with patches the processor marks ``-100`` (overlap margins),
    as Molmo's does."""

    def process(self, images, text, message_format, always_start_with_space):
        sample = super().process(images, text, message_format, always_start_with_space)
        if images[0].width >= 2 * images[0].height:
            sample["images"] = torch.cat([sample["images"], 0.5 * sample["images"]])
            sample["image_input_idx"] = torch.tensor([[1, 2], [3, -100]])
            sample["image_masks"] = torch.ones(2, 2)
        return sample


def test_molmo_padded_batch_equals_one_sample_at_a_time():
    """Prompts of different lengths and images of different crop counts, padded with -1, answer as
    they do alone.

    The stand-in places features at ``index + sample * length`` without filtering negatives, as the
    old
    published revisions do: an unparked -1 would land on the previous sample's last token, -100 out
    of bounds.
    """
    from vlmprune.models.molmo.remote_code import pad_stack, park_unused_patches

    adapter = MolmoAdapter(StandInMolmo(), MultiCropProcessor())
    batch = [
        dict(r, question=q)
        for r, q in zip(
            records(3), ["what color is the big shape?", "what?", "how many?"], strict=True
        )
    ]
    batch[1] = dict(
        batch[1], image=batch[1]["image"].resize((64, 32))
    )  # wide: two crops, one patch marked -100
    inputs = adapter.encode(batch)
    ids, index = inputs["input_ids"], inputs["image_input_idx"]
    assert (index >= 0).all() and (ids[:, -1] == -1).all()
    raw = pad_stack(
        [
            adapter.processor.process(
                [r["image"]], adapter.prompt(r["question"], r["style"]), "none", False
            )["image_input_idx"]
            for r in batch
        ]
    )
    parked = raw < 0
    assert (raw == -100).any() and (raw == -1).any()
    assert torch.equal(index[~parked], raw[~parked])
    assert (
        ids.gather(1, index.flatten(1))[parked.flatten(1)] == -1
    ).all()  # each unused patch sits on a padding token
    alone = [adapter.generate([r], max_new_tokens=4)[0] for r in batch]
    assert adapter.generate(batch, max_new_tokens=4) == alone
    untouched = torch.tensor([[5, 6]]), torch.tensor([[[1, 0]]])
    assert park_unused_patches(*untouched) == untouched  # nothing unused: no padding column added


def test_molmo_remote_code_needs_the_config_to_allow_it(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "molmo",
                "architectures": ["MolmoForCausalLM"],
                "n_layers": 16,
                "auto_map": {"AutoModelForCausalLM": "modeling_molmoe.MolmoForCausalLM"},
            }
        )
    )
    assert adapter_class(tmp_path) is MolmoAdapter
    with pytest.raises(ModelError, match="model.trust_remote_code: true.*") as error:
        load_adapter(
            tmp_path, adapter="molmo", device="cpu"
        )  # the published code, named but not allowed
    assert "modeling_molmoe.py" in str(error.value)
    with pytest.raises(
        ModelError, match="not a whole Molmo snapshot.*model.safetensors.*hf download"
    ):
        load_adapter(
            tmp_path, device="cpu"
        )  # auto: the native model, which runs no remote code and wants the weights


# ---------------------------------------------------------------- bad input


def test_bad_input_gives_clear_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_adapter(tmp_path / "empty")
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    (unknown / "config.json").write_text(
        json.dumps({"model_type": "blip_2", "architectures": ["Blip2ForConditionalGeneration"]})
    )
    with pytest.raises(ModelError, match="model.block_path") as error:
        load_adapter(unknown)
    assert all(name in str(error.value) for name in ADAPTERS)
    with pytest.raises(ModelError, match="model.adapter 'nope' is unknown"):
        load_adapter(unknown, adapter="nope")
    with pytest.raises(
        ModelError,
        match="model.path 'allenai/MolmoE-1B-0924' is not a local directory.*set model.path",
    ):
        load_adapter("allenai/MolmoE-1B-0924")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "llava"}))
    (pickled / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ModelError, match="model.allow_pickle: true"):
        load_adapter(pickled)


def test_a_broken_config_json_names_the_file_and_the_key(tiny_llava, tmp_path):
    import shutil

    from vlmprune.models.loading import count_blocks

    truncated = shutil.copytree(tiny_llava, tmp_path / "truncated")
    text = (truncated / "config.json").read_text()
    (truncated / "config.json").write_text(text[: len(text) // 2])
    with pytest.raises(ModelError, match="is not valid JSON") as error:
        count_blocks(truncated)
    assert str(truncated / "config.json") in str(error.value)
    eight = shutil.copytree(tiny_llava, tmp_path / "eight")
    config = json.loads(text)
    config["text_config"]["num_hidden_layers"] = "eight"
    (eight / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError) as error:
        count_blocks(eight)
    assert f"{eight / 'config.json'}: its key text_config.num_hidden_layers is 'eight', " in str(
        error.value
    )
    del config["text_config"]["num_hidden_layers"]
    (eight / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="it has no key text_config.num_hidden_layers"):
        count_blocks(eight)


def custom_code_checkpoint(tiny_llava: Path, out: Path) -> Path:
    """The tiny LLaVA as a checkpoint of an architecture transformers does not know: it ships
    its own code (a configuration and a model subclassing LLaVA's), named in ``auto_map``."""
    import shutil

    shutil.copytree(tiny_llava, out)
    config = json.loads((out / "config.json").read_text())
    config.update(
        model_type="tiny_custom_vlm",
        architectures=["TinyCustomVLM"],
        auto_map={
            "AutoConfig": "configuration_tiny.TinyCustomConfig",
            "AutoModelForImageTextToText": "modeling_tiny.TinyCustomVLM",
        },
    )
    (out / "config.json").write_text(json.dumps(config))
    (out / "configuration_tiny.py").write_text(
        "from transformers import LlavaConfig\n\n\n"
        "class TinyCustomConfig(LlavaConfig):\n    model_type = 'tiny_custom_vlm'\n"
    )
    (out / "modeling_tiny.py").write_text(
        "from transformers import LlavaForConditionalGeneration\n\n"
        "from .configuration_tiny import TinyCustomConfig\n\n\n"
        "class TinyCustomVLM(LlavaForConditionalGeneration):\n    config_class = TinyCustomConfig\n"
    )
    return out


def test_trust_remote_code_works_where_honoured_and_is_refused_where_ignored(
    tiny_llava, tmp_path, monkeypatch
):
    from vlmprune.models.loading import check_model_options

    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    custom = custom_code_checkpoint(tiny_llava, tmp_path / "custom")
    with pytest.raises(ModelError, match="model.trust_remote_code: true to run it") as error:
        check_model_options(custom, adapter="generic")
    assert "configuration_tiny.py, modeling_tiny.py" in str(error.value)
    check_model_options(custom, adapter="generic", trust_remote_code=True)
    adapter = load_adapter(custom, adapter="generic", device="cpu", trust_remote_code=True)
    assert type(adapter.model).__name__ == "TinyCustomVLM" and len(adapter.blocks) == 4
    for path, adapter_name in ((tiny_llava, "auto"), (tiny_llava, "generic")):
        with pytest.raises(ModelError, match="model.trust_remote_code is true.*remove the key"):
            check_model_options(path, adapter=adapter_name, trust_remote_code=True)
    check_model_options(tiny_llava)
    molmo = tmp_path / "molmo"
    molmo.mkdir()
    (molmo / "config.json").write_text(json.dumps({"model_type": "molmo", "n_layers": 2}))
    with pytest.raises(ModelError, match="model.allow_pickle is true, but the native Molmo v1"):
        check_model_options(molmo, allow_pickle=True)


@pytest.mark.parametrize(
    ("generation", "answer"),
    [
        # Molmo's VqaEval: the text after "Answer:" ...
        ("The sign is red. Answer: red", "red"),
        ("Answer:  two dogs ", "two dogs"),
        ("Answer: 3 Answer: 4", "3"),  # up to a second "Answer:"
        # ... else the most common line of a multi-line answer (white space collapsed, first on a
        # tie) ...
        ("yes\nno\n yes ", "yes"),
        ("blue\nred", "blue"),
        ("a  b\na b\nc", "a b"),
        # ... else the answer with white space collapsed.
        ("  two   dogs ", "two dogs"),
    ],
)
def test_molmo_answer_clean_up(generation: str, answer: str) -> None:
    assert molmo_answer(generation) == answer
    assert (
        MolmoAdapter.clean_answer(None, generation) == answer
    )  # the adapter's clean-up is Molmo's


def test_other_families_score_the_generation_as_decoded() -> None:
    assert ModelAdapter.clean_answer(None, "Answer: red\nred") == "Answer: red\nred"
    assert all(
        cls.clean_answer is ModelAdapter.clean_answer
        for cls in ADAPTERS.values()
        if cls not in (MolmoAdapter, MolmoNativeAdapter)
    )
    assert (
        MolmoNativeAdapter.clean_answer(None, "x\nAnswer: y") == "y"
    )  # the native Molmo scores as Molmo does
