"""The embedded demo model: a tiny LLaVA trained on easy-VQA, saved like a real checkpoint."""

from vlmprune.demo.tokenizer import build_tokenizer
from vlmprune.demo.train import train_demo_model

__all__ = ["build_tokenizer", "train_demo_model"]
