"""Datasets published on the Hugging Face hub, one adapter per dataset's columns.

Where the rows come from, in order:

1. a local path (``datasets.<name>.path``): either a directory written by ``save_to_disk``
   (a ``DatasetDict`` with the source's split names, or one split), or a copy of the hub
   repository's parquet files (``{split}-*.parquet``, ``{split}.parquet`` or ``{split}/*.parquet``
   anywhere below it; for multi-config datasets such as MMMU, below ``{config}/``);
2. otherwise ``datasets.load_dataset(hub_id, config, split=...)``, which works offline from
   the local cache. When the hub cannot be reached and nothing is cached, the load raises
   ``DatasetUnavailable`` naming the dataset, the hub id and the config key to set.

The adapters map the columns as published on the hub (dataset cards, checked 2024-2025):

- ``facebook/textvqa``: ``question_id`` int, ``question`` str, ``image``, ``answers`` list[str]
  (ten annotators; empty on ``test``). Splits train / validation / test.
- ``HuggingFaceM4/OK-VQA``: ``question_id`` int, ``question`` str, ``image``, ``answers``
  list of {``answer``, ``raw_answer``, ``answer_confidence``, ``answer_id``}; the references
  are the ``raw_answer`` s, as Molmo uses them. Splits train / validation.
- ``derek-thomas/ScienceQA``: ``image`` (None for text-only questions, which are dropped),
  ``question``, ``choices`` list[str], ``answer`` int (index into choices), ``hint`` str (the
  record's context). The reference is the correct option's letter ("A" for index 0). No id
  column: the sample id is the row's index in the unfiltered split. Splits train / validation / test.
- ``HuggingFaceM4/DocumentVQA``: ``questionId`` int, ``question``, ``image``, ``answers``
  list[str] (None on ``test``). Splits train / validation / test.
- ``HuggingFaceM4/ChartQA``: ``image``, ``query`` str, ``label`` list[str],
  ``human_or_machine``. No id column (row index). Splits train / val / test.
- ``MMMU/MMMU`` (30 subject configs, concatenated): ``id`` str, ``question``, ``options``
  (a Python list literal as a string, ``"[]"`` for open questions), ``answer`` (a letter, or
  the answer text, or a list literal of accepted answers), ``question_type``
  (``multiple-choice`` / ``open``), ``image_1`` … ``image_7`` (only ``image_1`` is used, as in
  Molmo's MMMU loader). Splits dev (5 per subject) / validation / test (answers hidden).

Every row without an image is dropped (a VLM record needs one).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
from datasets.exceptions import DatasetNotFoundError

from vlmprune.data.records import RECORD_FEATURES
from vlmprune.data.sources.common import (
    LayoutError,
    Target,
    config_key,
    require_columns,
    unavailable,
)

# (id, question, answers, choices, context) of one hub row; the row's index is the fallback id.
Converter = Callable[[dict[str, Any], int], tuple[Any, str, list[str], list[str], str]]


@dataclass(frozen=True)
class Adapter:
    columns: tuple[str, ...]
    convert: Converter
    image_column: str = "image"


def _text_vqa(row: dict, index: int) -> tuple:
    return row["question_id"], row["question"], list(row["answers"] or []), [], ""


def _dicts(value: Any) -> list[dict]:
    """A list-of-structs column as a list of dicts (``datasets`` may hand it over as a dict of lists)."""
    if isinstance(value, dict):
        keys = list(value)
        return [dict(zip(keys, items)) for items in zip(*(value[k] for k in keys))]
    return list(value or [])


def _okvqa(row: dict, index: int) -> tuple:
    return (
        row["question_id"],
        row["question"],
        [a["raw_answer"] for a in _dicts(row["answers"])],
        [],
        "",
    )


def _science_qa(row: dict, index: int) -> tuple:
    """The hint is the record's context; the reference is the correct option's letter."""
    return (
        index,
        row["question"],
        [chr(ord("A") + row["answer"])],
        list(row["choices"]),
        row["hint"] or "",
    )


def _doc_qa(row: dict, index: int) -> tuple:
    return row["questionId"], row["question"], list(row["answers"] or []), [], ""


def _chart_qa(row: dict, index: int) -> tuple:
    return index, row["query"], list(row["label"]), [], ""


def _python_list(text: str) -> list[str] | None:
    text = text.strip()
    if not text.startswith("["):
        return None
    value = ast.literal_eval(text)
    return [str(v) for v in value]


def _mmmu(row: dict, index: int) -> tuple:
    if row["question_type"] == "multiple-choice":
        return row["id"], row["question"], [row["answer"]], _python_list(row["options"]) or [], ""
    return row["id"], row["question"], _python_list(row["answer"]) or [row["answer"]], [], ""


ADAPTERS: dict[str, Adapter] = {
    "text_vqa": Adapter(("question_id", "question", "image", "answers"), _text_vqa),
    "okvqa": Adapter(("question_id", "question", "image", "answers"), _okvqa),
    "science_qa": Adapter(("image", "question", "choices", "answer", "hint"), _science_qa),
    "doc_qa": Adapter(("questionId", "question", "image", "answers"), _doc_qa),
    "chart_qa": Adapter(("image", "query", "label"), _chart_qa),
    "mmmu": Adapter(
        ("id", "question", "options", "answer", "question_type", "image_1"), _mmmu, "image_1"
    ),
}


def cache_locations(hub_id: str) -> list[Path]:
    """Where a hub dataset's files would be cached: the ``datasets`` cache and the hub's download cache."""
    owner_name = hub_id.split("/")
    return [
        Path(datasets.config.HF_DATASETS_CACHE) / "___".join(owner_name),
        Path(huggingface_hub.constants.HF_HUB_CACHE) / ("datasets--" + "--".join(owner_name)),
    ]


def is_cached(hub_id: str) -> bool:
    return any(p.is_dir() and any(p.iterdir()) for p in cache_locations(hub_id))


def _load_local(target: Target, root: Path, config: str | None, split: str) -> datasets.Dataset:
    base = root
    if config is not None:
        base = root / config
        if not base.is_dir():
            raise LayoutError(
                f"dataset {target.name!r}: {root} lacks the directory {config}/ of config {config!r}"
            )
    if (base / "dataset_dict.json").is_file():
        saved = datasets.load_from_disk(str(base))
        if split not in saved:
            raise LayoutError(
                f"dataset {target.name!r}: {base} holds splits {sorted(saved)}, not {split!r}"
            )
        return saved[split]
    if (base / "state.json").is_file():
        return datasets.load_from_disk(str(base))
    files = sorted(
        p
        for p in base.rglob("*.parquet")
        if p.stem == split or p.stem.startswith(f"{split}-") or p.parent.name == split
    )
    if not files:
        raise LayoutError(
            f"dataset {target.name!r}: {base} holds neither a save_to_disk dataset (dataset_dict.json) nor parquet "
            f"files of split {split!r} ({split}-*.parquet, {split}.parquet or {split}/*.parquet)"
        )
    return datasets.Dataset.from_parquet([str(f) for f in files])


def load_rows(
    target: Target,
    hub_id: str,
    split: str,
    *,
    config: str | None = None,
    local_path: str | Path | None = None,
    how_to_get: str = "",
) -> datasets.Dataset:
    """The raw rows of one split, from ``local_path`` or from the hub (cache)."""
    if local_path is not None:
        root = Path(local_path).expanduser()
        if not root.is_dir():
            raise LayoutError(
                f"dataset {target.name!r}: local path {root} is not a directory (set by {config_key(target.name)})"
            )
        return _load_local(target, root, config, split)
    try:
        return datasets.load_dataset(hub_id, config, split=split)
    except (ConnectionError, DatasetNotFoundError) as err:
        raise unavailable(
            target.name,
            hub_id,
            f"it is not in the local Hugging Face cache and the hub cannot be reached ({err})",
            how_to_get,
        ) from err
    except RuntimeError as err:
        if "Dataset scripts are no longer supported" not in str(err):
            raise
        raise unavailable(
            target.name,
            hub_id,
            "its hub repository holds only a loading script, which datasets>=4 cannot run; download the hub's parquet "
            f"export with `hf download {hub_id} --repo-type dataset --revision refs/convert/parquet --local-dir DIR`",
            how_to_get,
        ) from err


def load_records(
    target: Target,
    hub_id: str,
    split: str,
    *,
    adapter: str,
    configs: Sequence[str | None] = (None,),
    local_path: str | Path | None = None,
    how_to_get: str = "",
) -> datasets.Dataset:
    """Records of one split; the rows of several configs (MMMU's subjects) are concatenated."""
    spec = ADAPTERS[adapter]
    parts = []
    for config in configs:
        rows = load_rows(
            target, hub_id, split, config=config, local_path=local_path, how_to_get=how_to_get
        )
        where = f"split {split!r}" + (f" of config {config!r}" if config else "")
        where += f" under {local_path}" if local_path else f" of {hub_id}"
        require_columns(target, where, rows.column_names, spec.columns)
        # Images pass through as stored bytes: decoding and re-encoding them would only cost time.
        rows = rows.cast_column(spec.image_column, datasets.Image(decode=False))
        convert = _converter(target, split, spec)
        parts.append(
            rows.map(
                convert,
                batched=True,
                with_indices=True,
                remove_columns=rows.column_names,
                features=RECORD_FEATURES,
            )
        )
    records = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    if len(records) == 0:
        raise LayoutError(
            f"dataset {target.name!r}: split {split!r} holds no question with an image"
        )
    return records


def _converter(
    target: Target, split: str, spec: Adapter
) -> Callable[[dict[str, list], list[int]], dict[str, list]]:
    def convert(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        out: dict[str, list] = {name: [] for name in RECORD_FEATURES}
        for position, index in enumerate(indices):
            row = {key: values[position] for key, values in batch.items()}
            if row[spec.image_column] is None:
                continue
            sample, question, answers, choices, context = spec.convert(row, index)
            out["sample_id"].append(f"{target.name}/{split}/{sample}")
            out["image"].append(row[spec.image_column])
            out["question"].append(question)
            out["context"].append(context)
            out["answers"].append(answers)
            out["choices"].append(choices)
            out["metric"].append(target.metric)
            out["style"].append(target.style)
        return out

    return convert
