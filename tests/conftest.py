"""Shared fixtures: a tiny randomly initialised LLaVA saved like a real checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


def save_tiny_llava(out_dir: Path, *, text_layers: int = 4, seed: int = 0) -> Path:
    """A random LLaVA with the demo model's tokenizer and processor, written by save_pretrained."""
    import torch

    from vlmprune.data.sources.easy_vqa import answer_vocabulary, iter_questions
    from vlmprune.demo.tokenizer import build_tokenizer
    from vlmprune.demo.train import build_model, build_processor

    torch.manual_seed(seed)
    texts = [
        row["question"] for _, row in zip(range(2000), iter_questions("train"))
    ] + answer_vocabulary()
    tokenizer = build_tokenizer(texts)
    processor = build_processor(tokenizer, patch_size=16)
    model = build_model(
        tokenizer,
        patch_size=16,
        vision_hidden=32,
        vision_intermediate=64,
        vision_layers=2,
        text_hidden=32,
        text_intermediate=64,
        text_layers=text_layers,
        heads=2,
    )
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


@pytest.fixture
def drawn_figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every matplotlib figure saved during the test, in order, so that a test reads what was drawn."""
    from matplotlib.figure import Figure

    figures = []
    savefig = Figure.savefig

    def recording(self, *args, **kwargs):
        figures.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording)
    return figures


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """easy-VQA val written by prepare_dataset, as rule prepare_dataset writes it."""
    from vlmprune.data.prepare import prepare_dataset

    out = tmp_path_factory.mktemp("data") / "easy_vqa" / "val"
    prepare_dataset("easy_vqa", "val", out)
    return out


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llava(tmp_path_factory.mktemp("models") / "tiny-llava")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """``tiny_checkpoint(architecture)``: the directory of that architecture's tiny checkpoint, built once per session."""
    from tiny_models import BUILDERS

    root = tmp_path_factory.mktemp("architectures")
    built: dict[str, Path] = {}

    def get(architecture: str) -> Path:
        if architecture not in built:
            built[architecture] = BUILDERS[architecture](root / architecture)
        return built[architecture]

    return get
