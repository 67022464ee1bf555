"""The demo model: tokenizer, determinism, and loading like a real checkpoint."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText, AutoProcessor

from vlmprune.data.sources.easy_vqa import iter_questions
from vlmprune.demo.tokenizer import build_tokenizer
from vlmprune.demo.train import (
    IGNORE_INDEX,
    _collate,
    _Examples,
    answer_predictor_positions,
    build_processor,
    prompt_ids,
    train_demo_model,
)
from vlmprune.models.prompts import llava_prompt

TINY = {"vision_steps": 2, "llava_steps": 3, "batch_size": 4, "image_label_weight": 1.0}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple:
    root = tmp_path_factory.mktemp("demo")
    facts = [train_demo_model(root / name, seed=3, **TINY) for name in ("a", "b")]
    return root, facts


def test_tokenizer_round_trips_a_question() -> None:
    tokenizer = build_tokenizer(["what color is the shape?", "blue"])
    prompt = llava_prompt("what color is the shape?", "vqa2")
    ids = tokenizer(prompt)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.convert_tokens_to_ids("<image>") in ids
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert (
        decoded == "user : what color is the shape ? answer the question using a single word or "
        "phrase . assistant :"
    )
    assert tokenizer.decode(tokenizer(" blue", add_special_tokens=False)["input_ids"]) == "blue"


def test_same_seed_gives_same_weights(trained) -> None:
    root, facts = trained
    assert facts[0]["llava_steps"] == TINY["llava_steps"]
    a, b = load_file(root / "a" / "model.safetensors"), load_file(root / "b" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert not any(path.name.endswith(".tmp") for path in root.iterdir())


def test_saved_directory_generates_through_the_processor(trained) -> None:
    root, _ = trained
    processor = AutoProcessor.from_pretrained(root / "a")
    model = AutoModelForImageTextToText.from_pretrained(root / "a").eval()
    assert type(processor).__name__ == "LlavaProcessor"
    assert type(processor.image_processor) is type(
        build_processor(processor.tokenizer, patch_size=16).image_processor
    )
    assert processor.tokenizer.padding_side == "left"
    assert model.config.text_config.num_hidden_layers == 8

    rows = list(iter_questions("val"))[:3]
    images = [Image.open(row["image_path"]).convert("RGB") for row in rows]
    prompts = [llava_prompt(row["question"], "vqa2") for row in rows]
    inputs = processor(text=prompts, images=images, return_tensors="pt", padding=True)
    # The processor expands <image> exactly as training did, and pads on the left.
    for row, ids, mask in zip(rows, inputs["input_ids"], inputs["attention_mask"], strict=True):
        expected = prompt_ids(processor.tokenizer, row["question"], model.config.image_seq_length)
        assert ids[mask.bool()].tolist() == expected
    assert inputs["attention_mask"][:, -1].all()

    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    answers = processor.batch_decode(
        out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
    )
    assert len(answers) == len(rows)
    # left padding leaves every answer as it is when the sample is generated alone
    for prompt, image, answer in zip(prompts, images, answers, strict=True):
        alone = processor(text=[prompt], images=[image], return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**alone, max_new_tokens=3, do_sample=False)
        assert processor.batch_decode(
            out[:, alone["input_ids"].shape[1] :], skip_special_tokens=True
        ) == [answer]


def test_image_labels_are_read_where_the_answer_is_predicted() -> None:
    # three questions of different lengths, left-padded together: prompt ids, then answer and EOS
    prompts, answers = [[1, 5, 6], [1, 5, 6, 7, 8], [1, 9]], [[20], [21, 22], [23]]
    examples = _Examples(
        pixel_values=torch.zeros(1, 3, 4, 4),
        image_index=np.zeros(3, dtype=np.int64),
        input_ids=[prompt + answer + [2] for prompt, answer in zip(prompts, answers, strict=True)],
        answer_start=np.array([len(prompt) for prompt in prompts]),
        colors=torch.tensor([IGNORE_INDEX]),
        shapes=torch.tensor([IGNORE_INDEX]),
    )
    batch = _collate(examples, np.arange(3), pad_id=0)
    positions = answer_predictor_positions(batch["labels"])
    for row, (prompt, answer) in enumerate(zip(prompts, answers, strict=True)):
        assert batch["input_ids"][row, positions[row]] == prompt[-1]
        assert batch["input_ids"][row, positions[row] + 1] == answer[0]
        assert batch["labels"][row, positions[row]] == IGNORE_INDEX
