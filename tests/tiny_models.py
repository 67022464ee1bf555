"""Tiny random checkpoints of every supported architecture, with their real processor and tokenizer
classes.

Each ``save_*`` writes a directory as a hub checkpoint would look after ``save_pretrained``:
the model (hidden size 32, four decoder layers, two vision layers), the family's own processor
class with its own image (and, where the family has one, video) processor sized for 28–64 px
images, and the family's own tokenizer class (``Qwen2Tokenizer``, ``GemmaTokenizer``,
``LlamaTokenizer``) built from a byte-level BPE trained here with ``tokenizers``, since the
hub is offline. ``load_adapter`` then reads them back with ``AutoProcessor.from_pretrained``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=4,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=512,
)
VISION_LAYERS = 2

# What the tokenizers are trained on: the easy_vqa questions and answers, and the prompt words.
CORPUS = [
    "what color is the shape? is there a red shape? what shape is this? does the image "
    "contain a circle?",
    "is the shape blue? is there a rectangle? what is the color of the triangle? is no "
    "shape green?",
    "answer the question using a single word or phrase. answer with the option's letter "
    "from the given choices.",
    "red blue green yellow teal brown gray black circle rectangle triangle yes no user assistant",
]

QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]


@cache
def _trained_bpe(style: str, vocab_size: int = 420) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary and merges of a BPE trained on ``CORPUS``, byte-level (GPT-2, Qwen) or
    ▁-and-byte-fallback (Llama, Gemma)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    if style == "bytelevel":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.BPE(byte_fallback=True))
        tokenizer.normalizer = normalizers.Replace(" ", "▁")
        tokenizer.pre_tokenizer = pre_tokenizers.Split("▁", "merged_with_next")
        byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size + 256,
            initial_alphabet=["▁"],
            show_progress=False,
            special_tokens=["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", *byte_tokens],
        )
    tokenizer.train_from_iterator(CORPUS, trainer)
    model = json.loads(tokenizer.to_str())["model"]
    return model["vocab"], [tuple(pair) for pair in model["merges"]]


def qwen2_tokenizer(extra: list[str] = (), **kwargs):
    from transformers import Qwen2Tokenizer

    vocab, merges = _trained_bpe("bytelevel")
    tokenizer = Qwen2Tokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        **kwargs,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": [*QWEN_SPECIALS, *extra]})
    return tokenizer


def qwen_ids(tokenizer) -> dict[str, int]:
    return {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}


def _save(model, processor, out: Path) -> Path:
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


# ---------------------------------------------------------------- LLaVA-1.5: CLIP tower, Llama
# decoder, LlamaTokenizer


def save_llava(out: Path) -> Path:
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlamaTokenizer,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    vocab, merges = _trained_bpe("spm")
    tok = LlamaTokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        unk_token="<unk>",
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        padding_side="left",
        extra_special_tokens={"image_token": "<image>"},
    )
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
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
            num_hidden_layers=VISION_LAYERS,
            num_attention_heads=2,
            image_size=32,
            patch_size=16,
            projection_dim=32,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tok),
            **TEXT,
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
    return _save(LlavaForConditionalGeneration(config), processor, out)


# ---------------------------------------------------------------- LLaVA-OneVision: SigLIP tower,
# any-res tiles, Qwen2 decoder


def save_llava_onevision(out: Path) -> Path:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    tok = qwen2_tokenizer(["<image>", "<video>"])
    pinpoints = [[28, 28], [28, 56], [56, 28]]
    images = LlavaOnevisionImageProcessor(
        size={"height": 28, "width": 28}, image_grid_pinpoints=pinpoints
    )
    videos = LlavaOnevisionVideoProcessor(size={"height": 28, "width": 28})
    processor = LlavaOnevisionProcessor(
        image_processor=images,
        tokenizer=tok,
        video_processor=videos,
        num_image_tokens=4,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
    )
    ids = qwen_ids(tok)
    config = LlavaOnevisionConfig(
        vision_config=dict(
            model_type="siglip_vision_model",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=VISION_LAYERS,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
        ),
        text_config=dict(
            model_type="qwen2",
            vocab_size=len(tok),
            **TEXT,
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=pinpoints,
    )
    torch.manual_seed(0)
    return _save(LlavaOnevisionForConditionalGeneration(config), processor, out)


# ---------------------------------------------------------------- Qwen2-VL and Qwen2.5-VL: M-RoPE,
# sliding-window layers


def _qwen_vl(out: Path, family: str) -> Path:
    import transformers

    prefix = {"qwen2_vl": "Qwen2VL", "qwen2_5_vl": "Qwen2_5_VL"}[family]
    tok = qwen2_tokenizer()
    image_processor_class = transformers.Qwen2VLImageProcessor
    video_processor_class = transformers.Qwen2VLVideoProcessor
    pixels = dict(
        min_pixels=28 * 28, max_pixels=56 * 56, patch_size=14, merge_size=2, temporal_patch_size=2
    )
    images = image_processor_class(**pixels)
    videos = video_processor_class(**pixels)
    processor = getattr(transformers, f"{prefix}Processor")(
        image_processor=images, tokenizer=tok, video_processor=videos
    )
    ids = qwen_ids(tok)
    vision = dict(
        depth=VISION_LAYERS,
        hidden_size=32,
        num_heads=2,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
    )
    if family == "qwen2_vl":
        vision.update(embed_dim=32, mlp_ratio=2)
    else:
        vision.update(
            intermediate_size=64, out_hidden_size=32, window_size=56, fullatt_block_indexes=[1]
        )
    config = getattr(transformers, f"{prefix}Config")(
        # blocks 0 and 2 attend through a sliding window shorter than the prompt: a hybrid cache
        text_config=dict(
            vocab_size=len(tok),
            **TEXT,
            use_sliding_window=True,
            sliding_window=8,
            layer_types=[
                "sliding_attention",
                "full_attention",
                "sliding_attention",
                "full_attention",
            ],
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
            },
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
            bos_token_id=None,
        ),
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(0)
    return _save(getattr(transformers, f"{prefix}ForConditionalGeneration")(config), processor, out)


def save_qwen2_vl(out: Path) -> Path:
    return _qwen_vl(out, "qwen2_vl")


def save_qwen2_5_vl(out: Path) -> Path:
    return _qwen_vl(out, "qwen2_5_vl")


# ---------------------------------------------------------------- Idefics3 and SmolVLM: SigLIP
# tower, pixel shuffle, Llama decoder

IDEFICS_SPECIALS = [
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
] + [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]


def _idefics_text(tok) -> dict:
    return dict(
        vocab_size=len(tok),
        **TEXT,
        eos_token_id=tok.convert_tokens_to_ids("<end_of_utterance>"),
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
    )


def save_idefics3(out: Path) -> Path:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        LlamaTokenizer,
    )

    vocab, merges = _trained_bpe("spm")
    tok = LlamaTokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        bos_token="<bos>",
        eos_token="<end_of_utterance>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
    )
    tok.add_special_tokens({"additional_special_tokens": IDEFICS_SPECIALS})
    images = Idefics3ImageProcessor(
        do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32}
    )
    processor = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4)
    config = Idefics3Config(
        text_config=dict(model_type="llama", **_idefics_text(tok)),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=VISION_LAYERS,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    torch.manual_seed(0)
    return _save(Idefics3ForConditionalGeneration(config), processor, out)


def save_smolvlm(out: Path) -> Path:
    """SmolVLM2 (``model_type`` smolvlm); its processor needs the ``num2words`` package."""
    from transformers import (
        GPT2Tokenizer,
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessor,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
    )

    vocab, merges = _trained_bpe("bytelevel")
    tok = GPT2Tokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        padding_side="left",
    )
    tok.add_special_tokens(
        {
            "additional_special_tokens": [
                "<|endoftext|>",
                "<|im_start|>",
                "<video>",
                *IDEFICS_SPECIALS,
            ]
        }
    )
    size = dict(
        do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32}
    )
    # The class refuses to exist without num2words (used for video timestamps); writing its files
    # does not need it,
    # so a stand-in is lent for the construction alone. Loading the checkpoint needs the real
    # package.
    module = sys.modules[SmolVLMProcessor.__module__]
    lent = module.num2words is None
    if lent:
        module.num2words = str
    try:
        processor = SmolVLMProcessor(
            image_processor=SmolVLMImageProcessor(**size),
            tokenizer=tok,
            video_processor=SmolVLMVideoProcessor(**size),
            image_seq_len=4,
        )
    finally:
        if lent:
            module.num2words = None
    config = SmolVLMConfig(
        text_config=dict(model_type="llama", **_idefics_text(tok)),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=VISION_LAYERS,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    torch.manual_seed(0)
    return _save(SmolVLMForConditionalGeneration(config), processor, out)


# ---------------------------------------------------------------- Gemma3: SigLIP tower,
# sliding-window and global layers


def save_gemma3(out: Path) -> Path:
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        GemmaTokenizer,
    )

    vocab, merges = _trained_bpe("spm")
    specials = {
        "image_token": "<image_soft_token>",
        "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>",
    }
    tok = GemmaTokenizer(
        vocab=dict(vocab), merges=list(merges), padding_side="left", extra_special_tokens=specials
    )
    tok.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    images = Gemma3ImageProcessor(size={"height": 32, "width": 32})
    processor = Gemma3Processor(image_processor=images, tokenizer=tok, image_seq_length=4)
    config = Gemma3Config(
        # pattern 2: blocks 0 and 2 slide over a window shorter than the prompt, 1 and 3 attend
        # globally
        text_config=dict(
            vocab_size=len(tok),
            **TEXT,
            head_dim=16,
            sliding_window=8,
            layer_types=[
                "sliding_attention",
                "full_attention",
                "sliding_attention",
                "full_attention",
            ],
            eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids("<end_of_turn>")],
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=VISION_LAYERS,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        mm_tokens_per_image=4,
        image_token_index=tok.image_token_id,
        boi_token_index=tok.boi_token_id,
        eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
    )
    torch.manual_seed(0)
    model = Gemma3ForConditionalGeneration(config)
    # initialised to zeros, which would leave the image out of every answer
    torch.nn.init.normal_(model.model.multi_modal_projector.mm_input_projection_weight, std=0.5)
    return _save(model, processor, out)


# ---------------------------------------------------------------- Molmo2: per-layer rotary tables,
# crops pooled 2x2

MOLMO2_SPECIALS = [
    "<im_patch>",
    "<im_col>",
    "<im_start>",
    "<low_res_im_start>",
    "<frame_start>",
    "<im_end>",
    "<frame_end>",
    "<im_low>",
    "<|image|>",
    "<|video|>",
]


def save_molmo2(out: Path) -> Path:
    from transformers import (
        Molmo2Config,
        Molmo2ForConditionalGeneration,
        Molmo2ImageProcessor,
        Molmo2Processor,
        Molmo2VideoProcessor,
    )

    tok = qwen2_tokenizer(MOLMO2_SPECIALS)
    ids = {t: tok.convert_tokens_to_ids(t) for t in [*QWEN_SPECIALS, *MOLMO2_SPECIALS]}
    crops = dict(
        size={"height": 28, "width": 28},
        patch_size=14,
        pooling_size=[2, 2],
        max_crops=2,
        overlap_margins=[0, 0],
    )
    processor = Molmo2Processor(
        image_processor=Molmo2ImageProcessor(**crops),
        video_processor=Molmo2VideoProcessor(),
        tokenizer=tok,
    )
    config = Molmo2Config(
        text_config=dict(
            **{**TEXT, "num_key_value_heads": 1},
            head_dim=16,
            vocab_size=len(tok),
            additional_vocab_size=0,
            rope_scaling_layers=[0, 2],
            rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=VISION_LAYERS,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=16,
            image_size=[28, 28],
            patch_size=14,
        ),
        adapter_config=dict(
            vision_feature_layer=[-1],
            hidden_size=32,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=16,
            intermediate_size=64,
            text_hidden_size=32,
        ),
        image_start_token_id=ids["<im_start>"],
        low_res_image_start_token_id=ids["<low_res_im_start>"],
        image_end_token_id=ids["<im_end>"],
        image_patch_id=ids["<im_patch>"],
        image_col_id=ids["<im_col>"],
        frame_start_token_id=ids["<frame_start>"],
        frame_end_token_id=ids["<frame_end>"],
    )
    torch.manual_seed(0)
    return _save(Molmo2ForConditionalGeneration(config), processor, out)


# ---------------------------------------------------------------- LLaVA-NeXT: no adapter of its
# own, served by `generic`


def save_llava_next(out: Path) -> Path:
    """LLaVA-NeXT (LLaVA-1.6): CLIP tower over any-resolution tiles, Llama decoder;
    ``model.adapter: generic``."""
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlamaTokenizer,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    vocab, merges = _trained_bpe("spm")
    tok = LlamaTokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        unk_token="<unk>",
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        padding_side="left",
        extra_special_tokens={"image_token": "<image>"},
    )
    pinpoints = [[32, 32], [32, 64], [64, 32]]
    images = LlavaNextImageProcessor(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
        image_grid_pinpoints=pinpoints,
    )
    processor = LlavaNextProcessor(
        image_processor=images,
        tokenizer=tok,
        patch_size=16,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
    )
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=VISION_LAYERS,
            num_attention_heads=2,
            image_size=32,
            patch_size=16,
            projection_dim=32,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tok),
            **TEXT,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        image_grid_pinpoints=pinpoints,
    )
    torch.manual_seed(0)
    return _save(LlavaNextForConditionalGeneration(config), processor, out)


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "llava": save_llava,
    "llava_onevision": save_llava_onevision,
    "qwen2_vl": save_qwen2_vl,
    "qwen2_5_vl": save_qwen2_5_vl,
    "idefics3": save_idefics3,
    "smolvlm": save_smolvlm,
    "gemma3": save_gemma3,
    "molmo2": save_molmo2,
    "llava_next": save_llava_next,
}
