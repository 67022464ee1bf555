"""The demo model's word-level tokenizer, built with the ``tokenizers`` library.

Every easy-VQA question is a handful of lower-case words from a closed vocabulary, so one
token per word (and per punctuation mark) keeps sequences short and the embedding tiny.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from vlmprune.models.prompts import LLAVA_IMAGE_TOKEN, llava_prompt

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
BOS_TOKEN = "[BOS]"
EOS_TOKEN = "[EOS]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, EOS_TOKEN, LLAVA_IMAGE_TOKEN)


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")]
    )


def build_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """A lower-casing word-level tokenizer whose vocabulary is every word of ``texts`` and of the
    prompt.

    Encoding prepends ``[BOS]`` (as Llama's tokenizer does); ``<image>`` is a special added
    token so that the LLaVA processor can find and expand it. Padding is on the left, as
    batched generation needs.
    """
    normalizer = normalizers.Lowercase()
    pre_tokenizer = _pre_tokenizer()
    words: set[str] = set()
    for text in [llava_prompt("", "vqa2").replace(LLAVA_IMAGE_TOKEN, " "), *texts]:
        words.update(
            word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
        )
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *sorted(words)])}

    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A",
        pair=f"{BOS_TOKEN} $A $B",
        special_tokens=[(BOS_TOKEN, vocab[BOS_TOKEN])],
    )
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        extra_special_tokens=[LLAVA_IMAGE_TOKEN],
        padding_side="left",
        model_input_names=["input_ids", "attention_mask"],
    )
