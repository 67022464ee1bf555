"""Train the embedded demo model: a tiny LLaVA that answers easy-VQA questions.

Two stages, both for fixed step counts so that a seed fixes the weights:

1. the CLIP vision tower alone learns each training image's colour and shape, labels read
   off the training questions, through linear heads on its max-pooled patch features (a
   shape fills a few patches: a mean would drown it in background). A tower trained only
   through the language model learns shapes far more slowly;
2. with the tower frozen, the projector and the language model learn to continue the
   ``vqa2`` prompt with `` {answer}`` and EOS, the loss on those tokens plus, weighted by
   ``image_label_weight``, the same colour and shape labels read off the language model's
   hidden state where it predicts the answer. Without that second loss the language model
   ignores the image tokens for about an epoch before it starts reading colours off them.

Images are mirrored left-right at random: no easy-VQA answer changes under that flip
(triangles point up, so there is no vertical flip).

Everything is saved with ``save_pretrained`` so that the directory loads like a real
checkpoint through ``AutoProcessor`` and ``AutoModelForImageTextToText``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

from vlmprune.data.sources.easy_vqa import ANSWER_TYPES, iter_questions
from vlmprune.demo.blocks import TEXT_LAYERS, VISION_LAYERS
from vlmprune.demo.tokenizer import build_tokenizer
from vlmprune.models.prompts import LLAVA_IMAGE_TOKEN, llava_prompt
from vlmprune.result_files import atomic_path

IMAGE_SIZE = 64
PROMPT_STYLE = "vqa2"
COLORS = sorted(ANSWER_TYPES["color"])
SHAPES = sorted(ANSWER_TYPES["shape"])
IGNORE_INDEX = -100


@dataclass(frozen=True)
class _Examples:
    """The training split, tokenised: sequences are prompt + answer + EOS, unpadded."""

    pixel_values: torch.Tensor  # (images, 3, H, W), as the image processor outputs them
    image_index: np.ndarray  # per question, its row in pixel_values
    input_ids: list[list[int]]
    answer_start: np.ndarray  # per question, where its answer tokens begin
    colors: torch.Tensor  # per image, index into COLORS or IGNORE_INDEX
    shapes: torch.Tensor  # per image, index into SHAPES or IGNORE_INDEX


def build_processor(
    tokenizer: PreTrainedTokenizerFast, *, patch_size: int, image_size: int = IMAGE_SIZE
) -> LlavaProcessor:
    """The LLaVA processor; it expands ``<image>`` to one token per patch (the CLS token is
    dropped).

    The image processor is the class ``AutoProcessor`` loads back (the torchvision backend, where
    torchvision is installed), so evaluation sees exactly the pixels training saw.
    """
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token=LLAVA_IMAGE_TOKEN,
    )


def build_model(
    tokenizer: PreTrainedTokenizerFast,
    *,
    patch_size: int,
    vision_hidden: int,
    vision_intermediate: int,
    vision_layers: int,
    text_hidden: int,
    text_intermediate: int,
    text_layers: int,
    heads: int,
    image_size: int = IMAGE_SIZE,
) -> LlavaForConditionalGeneration:
    vision_config = CLIPVisionConfig(
        hidden_size=vision_hidden,
        intermediate_size=vision_intermediate,
        num_hidden_layers=vision_layers,
        num_attention_heads=heads,
        image_size=image_size,
        patch_size=patch_size,
        projection_dim=vision_hidden,
    )
    text_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=text_hidden,
        intermediate_size=text_intermediate,
        num_hidden_layers=text_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=tokenizer.convert_tokens_to_ids(LLAVA_IMAGE_TOKEN),
        image_seq_length=(image_size // patch_size) ** 2,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,  # the tower is small: use all of it
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def _labels_from_question(question: str, answer: str) -> dict[str, str]:
    """The image's colour and/or shape as far as one question and its answer tell them.

    A colour or shape answer names the image's; a colour or shape the question names is the
    image's unless a yes/no question denies it (answer "no" xor a "not"/"no" in the question).
    """
    facts = {}
    words = question.rstrip("?").split()
    if answer in ANSWER_TYPES["yesno"]:
        holds = (answer == "yes") != bool({"not", "no"} & set(words))
    else:
        holds = True
        facts["color" if answer in ANSWER_TYPES["color"] else "shape"] = answer
    if holds:
        for word in words:
            for kind in ("color", "shape"):
                if word in ANSWER_TYPES[kind]:
                    facts[kind] = word
    return facts


def prompt_ids(tokenizer: PreTrainedTokenizerFast, question: str, image_tokens: int) -> list[int]:
    """Token ids of the prompt with ``<image>`` expanded, as the processor makes them."""
    prompt = llava_prompt(question, PROMPT_STYLE).replace(
        LLAVA_IMAGE_TOKEN, LLAVA_IMAGE_TOKEN * image_tokens
    )
    return tokenizer(prompt)["input_ids"]


def _load_examples(
    tokenizer: PreTrainedTokenizerFast, processor: LlavaProcessor, image_tokens: int
) -> _Examples:
    rows = list(iter_questions("train"))
    paths = sorted({row["image_path"] for row in rows})
    row_of_path = {path: i for i, path in enumerate(paths)}
    images = [Image.open(path).convert("RGB") for path in paths]
    pixel_values = processor.image_processor(images, return_tensors="pt")["pixel_values"]

    labels: list[dict[str, str]] = [{} for _ in paths]
    input_ids, answer_start = [], []
    prompts: dict[str, list[int]] = {}
    answers: dict[str, list[int]] = {}
    for row in rows:
        labels[row_of_path[row["image_path"]]].update(
            _labels_from_question(row["question"], row["answer"])
        )
        if row["question"] not in prompts:
            prompts[row["question"]] = prompt_ids(tokenizer, row["question"], image_tokens)
        if row["answer"] not in answers:
            answers[row["answer"]] = tokenizer(" " + row["answer"], add_special_tokens=False)[
                "input_ids"
            ]
        prompt = prompts[row["question"]]
        input_ids.append(prompt + answers[row["answer"]] + [tokenizer.eos_token_id])
        answer_start.append(len(prompt))

    def label_tensor(kind: str, names: list[str]) -> torch.Tensor:
        return torch.tensor(
            [names.index(label[kind]) if kind in label else IGNORE_INDEX for label in labels]
        )

    return _Examples(
        pixel_values=pixel_values,
        image_index=np.array([row_of_path[row["image_path"]] for row in rows]),
        input_ids=input_ids,
        answer_start=np.array(answer_start),
        colors=label_tensor("color", COLORS),
        shapes=label_tensor("shape", SHAPES),
    )


def _batches(n: int, batch_size: int, steps: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``steps`` batches of indices, epoch after epoch of seeded permutations."""
    order = np.empty(0, dtype=np.int64)
    for _ in range(steps):
        if len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(n)])
        yield order[:batch_size]
        order = order[batch_size:]


def _schedule(
    optimizer: torch.optim.Optimizer, steps: int, warmup: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup, then cosine decay to zero."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _pixels(examples: _Examples, images: np.ndarray) -> torch.Tensor:
    """The images, each mirrored left-right with probability 1/2 (under torch's seeded RNG)."""
    pixel_values = examples.pixel_values[images]
    flip = torch.rand(len(images), 1, 1, 1) < 0.5
    return torch.where(flip, pixel_values.flip(-1), pixel_values)


def _collate(examples: _Examples, batch: np.ndarray, pad_id: int) -> dict[str, torch.Tensor]:
    """Left-padded inputs (as at generation) with labels on the answer and EOS only."""
    length = max(len(examples.input_ids[i]) for i in batch)
    input_ids = torch.full((len(batch), length), pad_id)
    attention_mask = torch.zeros((len(batch), length), dtype=torch.long)
    labels = torch.full((len(batch), length), IGNORE_INDEX)
    for row, i in enumerate(batch):
        ids = examples.input_ids[i]
        offset = length - len(ids)
        input_ids[row, offset:] = torch.tensor(ids)
        attention_mask[row, offset:] = 1
        start = offset + examples.answer_start[i]
        labels[row, start:] = input_ids[row, start:]
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "pixel_values": _pixels(examples, examples.image_index[batch]),
        "labels": labels,
    }


def _optimize(
    params: list[torch.nn.Parameter],
    loss_of: Callable[[np.ndarray], torch.Tensor],
    batches: Iterator[np.ndarray],
    *,
    steps: int,
    learning_rate: float,
    desc: str,
) -> float:
    """AdamW with warmup and cosine decay over ``steps`` batches; returns the last batch's loss."""
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.01)
    scheduler = _schedule(optimizer, steps, warmup=max(1, steps // 20))
    loss_value = float("nan")
    progress = tqdm(batches, total=steps, desc=desc)
    for batch in progress:
        loss = loss_of(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        loss_value = loss.item()
        progress.set_postfix(loss=f"{loss_value:.4f}")
    return loss_value


class _ImageLabelHeads(torch.nn.Module):
    """Linear colour and shape classifiers on one feature vector per image; used in training
    only."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.color, self.shape = (
            torch.nn.Linear(hidden, len(COLORS)),
            torch.nn.Linear(hidden, len(SHAPES)),
        )

    def loss(self, features: torch.Tensor, examples: _Examples, images: np.ndarray) -> torch.Tensor:
        """Summed cross-entropies of both labels; an image's unknown label is ignored."""
        color_loss = F.cross_entropy(
            self.color(features), examples.colors[images], ignore_index=IGNORE_INDEX
        )
        shape_loss = F.cross_entropy(
            self.shape(features), examples.shapes[images], ignore_index=IGNORE_INDEX
        )
        return color_loss + shape_loss


def answer_predictor_positions(labels: torch.Tensor) -> torch.Tensor:
    """Per row, the position whose output predicts the first labelled (answer) token."""
    return (labels != IGNORE_INDEX).int().argmax(1) - 1


def _train_vision(
    model: LlavaForConditionalGeneration,
    examples: _Examples,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    rng: np.random.Generator,
) -> float:
    """Stage 1: colour and shape classifiers on the tower's patch features, max-pooled."""
    tower = model.model.vision_tower
    heads = _ImageLabelHeads(tower.config.hidden_size)

    def loss_of(images: np.ndarray) -> torch.Tensor:
        features = (
            tower(_pixels(examples, images), output_hidden_states=True)
            .hidden_states[-1][:, 1:]
            .amax(1)
        )
        return heads.loss(features, examples, images)

    params = [*tower.parameters(), *heads.parameters()]
    batches = _batches(len(examples.colors), batch_size, steps, rng)
    return _optimize(
        params, loss_of, batches, steps=steps, learning_rate=learning_rate, desc="vision tower"
    )


def _train_llava(
    model: LlavaForConditionalGeneration,
    examples: _Examples,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    image_label_weight: float,
    pad_id: int,
    rng: np.random.Generator,
) -> float:
    """Stage 2: projector and language model on answer tokens, the vision tower frozen.

    With ``image_label_weight`` > 0, colour and shape classifiers also read the language model's
    last hidden state where it predicts the answer, and their loss is added with that weight:
    every question then asks the model to carry the image's colour and shape to that position,
    not only the colour and shape questions.
    """
    model.model.vision_tower.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    if image_label_weight:
        heads = _ImageLabelHeads(model.config.text_config.hidden_size)
        params += list(heads.parameters())
    batches = _batches(len(examples.input_ids), batch_size, steps, rng)

    def loss_of(questions: np.ndarray) -> torch.Tensor:
        batch = _collate(examples, questions, pad_id)
        output = model(**batch, output_hidden_states=bool(image_label_weight))
        if not image_label_weight:
            return output.loss
        positions = answer_predictor_positions(batch["labels"])
        features = output.hidden_states[-1][torch.arange(len(questions)), positions]
        return output.loss + image_label_weight * heads.loss(
            features, examples, examples.image_index[questions]
        )

    return _optimize(
        params, loss_of, batches, steps=steps, learning_rate=learning_rate, desc="llava"
    )


def train_demo_model(
    out_dir: str | Path,
    *,
    seed: int = 0,
    vision_steps: int = 800,
    llava_steps: int = 800,
    batch_size: int = 64,
    vision_learning_rate: float = 3e-3,
    learning_rate: float = 2e-3,
    patch_size: int = 16,
    vision_hidden: int = 96,
    vision_intermediate: int = 192,
    vision_layers: int = VISION_LAYERS,
    text_hidden: int = 96,
    text_intermediate: int = 256,
    text_layers: int = TEXT_LAYERS,
    heads: int = 4,
    image_label_weight: float = 1.0,
) -> dict:
    """Train the demo LLaVA on easy-VQA train and save model, tokenizer and processor into
    ``out_dir``.

    The same seed gives the same weights (fixed step counts, seeded data order, deterministic
    kernels). The files are written to a sibling directory first and renamed into place.
    """
    out_dir = Path(out_dir)
    started = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        rows = list(iter_questions("train"))
        tokenizer = build_tokenizer(
            [text for row in rows for text in (row["question"], row["answer"])]
        )
        processor = build_processor(tokenizer, patch_size=patch_size)
        model = build_model(
            tokenizer,
            patch_size=patch_size,
            vision_hidden=vision_hidden,
            vision_intermediate=vision_intermediate,
            vision_layers=vision_layers,
            text_hidden=text_hidden,
            text_intermediate=text_intermediate,
            text_layers=text_layers,
            heads=heads,
        )
        examples = _load_examples(tokenizer, processor, model.config.image_seq_length)
        model.train()
        vision_loss = _train_vision(
            model,
            examples,
            steps=vision_steps,
            batch_size=batch_size,
            learning_rate=vision_learning_rate,
            rng=rng,
        )
        llava_loss = _train_llava(
            model,
            examples,
            steps=llava_steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            image_label_weight=image_label_weight,
            pad_id=tokenizer.pad_token_id,
            rng=rng,
        )
        model.requires_grad_(True)
        model.eval()
    finally:
        torch.use_deterministic_algorithms(deterministic)

    with atomic_path(out_dir) as tmp_dir:
        model.save_pretrained(tmp_dir)
        processor.save_pretrained(tmp_dir)
    return {
        "seed": seed,
        "vision_steps": vision_steps,
        "llava_steps": llava_steps,
        "batch_size": batch_size,
        "image_label_weight": image_label_weight,
        "vision_loss": vision_loss,
        "llava_loss": llava_loss,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": time.perf_counter() - started,
    }
