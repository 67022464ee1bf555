"""What every source shares: its two errors, layout checks, and building records.

Sources that read local files reference images by absolute path (``{"path": ..., "bytes":
None}``) instead of reading them, so loading VQA v2 does not copy all of COCO into memory;
``save_to_disk`` (datasets 5) embeds the bytes of the records it writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import datasets

from vlmprune.data.records import RECORD_FEATURES


class DatasetUnavailable(ValueError):
    """A dataset's data is neither cached nor given as a local path (or cannot be fetched offline)."""


class LayoutError(ValueError):
    """A local copy of a dataset lacks a file, a key or a column of its published layout."""


def config_key(name: str) -> str:
    return f"datasets.{name}.path"


def unavailable(
    name: str, hub_id: str | None, reason: str, how_to_get: str = ""
) -> DatasetUnavailable:
    """The error for a dataset that cannot be loaded here, naming the config key that fixes it."""
    source = f"hub id {hub_id!r}" if hub_id else "no hub id (distributed by manual download)"
    how = f" How to get it: {how_to_get}." if how_to_get else ""
    return DatasetUnavailable(
        f"dataset {name!r} ({source}) is not available: {reason}. "
        f"Set {config_key(name)} in config/config.yaml to a local copy.{how}"
    )


class Target(NamedTuple):
    """Who the records are for: the dataset's name (for ids and messages), its metric and style."""

    name: str
    metric: str
    style: str


def require_root(
    target: Target, local_path: str | Path | None, hub_id: str | None = None, how_to_get: str = ""
) -> Path:
    """The local copy's directory; a missing setting is ``DatasetUnavailable``, a missing directory a ``LayoutError``."""
    if local_path is None:
        raise unavailable(target.name, hub_id, "no local path is configured", how_to_get)
    root = Path(local_path).expanduser()
    if not root.is_dir():
        raise LayoutError(
            f"dataset {target.name!r}: local path {root} is not a directory (set by {config_key(target.name)})"
        )
    return root.resolve()


def require_file(target: Target, root: Path, *candidates: str) -> Path:
    """The first of ``candidates`` (paths relative to ``root``) that exists, else a ``LayoutError`` naming them."""
    for candidate in candidates:
        if (root / candidate).is_file():
            return root / candidate
    names = " or ".join(candidates)
    raise LayoutError(
        f"dataset {target.name!r}: {root} lacks {names} (the file of its published layout)"
    )


def read_json(target: Target, path: Path) -> Any:
    try:
        with path.open() as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise LayoutError(f"dataset {target.name!r}: {path} is not valid JSON ({err})") from None


def read_json_list(target: Target, path: Path, what: str) -> list:
    """A JSON file that must hold a list (of ``what``)."""
    data = read_json(target, path)
    if not isinstance(data, list):
        raise LayoutError(f"dataset {target.name!r}: {path} should hold a JSON list of {what}")
    return data


def require_keys(
    target: Target, path: Path, entry: Mapping, keys: Iterable[str], what: str = "an entry"
) -> None:
    if not isinstance(entry, Mapping):
        raise LayoutError(
            f"dataset {target.name!r}: {what} of {path} is a {type(entry).__name__}, not a JSON object"
        )
    missing = [k for k in keys if k not in entry]
    if missing:
        raise LayoutError(
            f"dataset {target.name!r}: {what} of {path} lacks key(s) {missing}; it has {sorted(entry)}"
        )


def require_columns(
    target: Target, where: str, columns: Sequence[str], required: Iterable[str]
) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise LayoutError(
            f"dataset {target.name!r}: {where} lacks column(s) {missing}; it has {sorted(columns)}"
        )


class ImageFiles:
    """Image references by path, each checked once for existence."""

    def __init__(self, target: Target):
        self.target = target
        self._seen: set[Path] = set()

    def __call__(self, path: Path) -> dict[str, Any]:
        if path not in self._seen:
            if not path.is_file():
                raise LayoutError(f"dataset {self.target.name!r}: image file {path} is missing")
            self._seen.add(path)
        return {"path": str(path), "bytes": None}


def answer_text(value: Any) -> str:
    """A JSON answer as text: integral floats without ".0", other values as written."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Row(NamedTuple):
    sample_id: str
    image: dict[str, Any]
    question: str
    answers: list[str]
    choices: list[str]
    context: str = ""


def to_dataset(target: Target, rows: Iterable[Row]) -> datasets.Dataset:
    """Records from rows (one per question), with the target's metric and style."""
    columns: dict[str, list] = {name: [] for name in RECORD_FEATURES}
    for row in rows:
        for key, value in row._asdict().items():
            columns[key].append(value)
    n = len(columns["sample_id"])
    if n == 0:
        raise LayoutError(f"dataset {target.name!r}: the split holds no questions")
    columns["metric"] = [target.metric] * n
    columns["style"] = [target.style] * n
    return datasets.Dataset.from_dict(columns, features=RECORD_FEATURES)


def question_list_records(
    target: Target,
    split: str,
    local_path: str | Path | None,
    *,
    how_to_get: str,
    files: Sequence[str],
    image_dir: str,
) -> datasets.Dataset:
    """Records of a layout whose JSON file (the first of ``files`` found) is a flat list of questions, each
    with ``image`` (a path under ``image_dir``), ``question``, ``answer`` and ``question_id`` (DVQA, TallyQA)."""
    root = require_root(target, local_path, how_to_get=how_to_get)
    path = require_file(target, root, *files)
    data = read_json_list(target, path, "questions")
    image = ImageFiles(target)

    def rows() -> Iterable[Row]:
        for entry in data:
            require_keys(
                target, path, entry, ["image", "question", "answer", "question_id"], "a question"
            )
            yield Row(
                f"{target.name}/{split}/{entry['question_id']}",
                image(root / image_dir / entry["image"]),
                entry["question"],
                [answer_text(entry["answer"])],
                [],
            )

    return to_dataset(target, rows())
