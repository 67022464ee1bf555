"""COCO captions (Chen et al., "Microsoft COCO Captions", 2015), one record per image, all its
captions as references.

Two published layouts are read from the local path:

- Karpathy split (Karpathy and Fei-Fei, CVPR 2015; ``dataset_coco.json`` from
  https://cs.stanford.edu/people/karpathy/deepimagesent/), used when that file is present::

      dataset_coco.json      {"images": [{"filepath": "val2014", "filename":
      "COCO_val2014_000000391895.jpg",
                              "cocoid" int, "split": "train"|"restval"|"val"|"test",
                              "sentences": [{"raw", "tokens", "sentid"}, ...]}, ...]}
      {filepath}/{filename}  the COCO 2014 images

  ``train`` = Karpathy train + restval; ``val`` = the Karpathy **test** split (the 5,000 images
  captioning papers report CIDEr on).
- Official captions (https://cocodataset.org/#download, ``annotations_trainval2014.zip``), as
  read by the Molmo fork's ``CocoCaptionBuilder``::

      annotations/captions_{train,val}2014.json   {"images": [{"id", "file_name", ...}],
                                                   "annotations": [{"image_id", "id", "caption"},
                                                   ...]}
      {train,val}2014/{file_name}

  ``train`` = train2014, ``val`` = val2014.

The question is empty: the ``coco_captioning`` prompt style carries the instruction.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import datasets

from vlmprune.data.sources.common import (
    ImageFiles,
    Row,
    Target,
    read_json,
    require_file,
    require_keys,
    require_root,
    to_dataset,
)

KARPATHY_FILE = "dataset_coco.json"
KARPATHY_SPLITS = {"train": ("train", "restval"), "val": ("test",)}
OFFICIAL_FILE = "annotations/captions_{split}2014.json"


def load_records(
    target: Target, split: str, local_path: str | Path | None, *, how_to_get: str = ""
) -> datasets.Dataset:
    """``split``: ``train`` or ``val`` (see the module docstring for what each layout maps them
    to)."""
    root = require_root(target, local_path, how_to_get=how_to_get)
    if (root / KARPATHY_FILE).is_file():
        return to_dataset(target, _karpathy(target, root, split))
    return to_dataset(target, _official(target, root, split))


def _karpathy(target: Target, root: Path, split: str):
    path = root / KARPATHY_FILE
    data = read_json(target, path)
    require_keys(target, path, data, ["images"], "the top level")
    image = ImageFiles(target)
    for entry in data["images"]:
        require_keys(
            target,
            path,
            entry,
            ["filepath", "filename", "cocoid", "split", "sentences"],
            "an image",
        )
        if entry["split"] in KARPATHY_SPLITS[split]:
            captions = [s["raw"] for s in entry["sentences"]]
            path = root / entry["filepath"] / entry["filename"]
            yield Row(f"{target.name}/{split}/{entry['cocoid']}", image(path), "", captions, [])


def _official(target: Target, root: Path, split: str):
    path = require_file(target, root, OFFICIAL_FILE.format(split=split), KARPATHY_FILE)
    data = read_json(target, path)
    require_keys(target, path, data, ["images", "annotations"], "the top level")
    captions: dict[int, list[str]] = defaultdict(list)
    for annotation in data["annotations"]:
        require_keys(target, path, annotation, ["image_id", "caption"], "an annotation")
        captions[annotation["image_id"]].append(annotation["caption"])
    image = ImageFiles(target)
    for entry in data["images"]:
        require_keys(target, path, entry, ["id", "file_name"], "an image")
        if captions[entry["id"]]:
            path = root / f"{split}2014" / entry["file_name"]
            yield Row(
                f"{target.name}/{split}/{entry['id']}", image(path), "", captions[entry["id"]], []
            )
