"""The registry of datasets the workflow knows: where each comes from and how it is scored.

Besides the easy-VQA family, the fourteen datasets Molmo evaluates and trains on, under
Molmo's names (allenai/molmo ``olmo/data/academic_datasets.py``, ``launch_scripts/utils.py``):
their sources, split mappings, prompt styles, answer lengths and metrics. ``docs/datasets.md``
is the same table for users, with each metric's reference implementation. Every metric is
the one Molmo reports with (``get_evaluator``) except ``coco_2014_vqa``, whose reported VQA v2
numbers (Molmo's and LLaVA's alike) come from the official evaluation; the datasets Molmo only
trains on get Molmo's scorer of their kind (PlotQA relaxed correctness, FigureQA and DVQA exact
match) and COCO captions pycocoevalcap's CIDEr-D.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from vlmprune.data.sources import (
    coco_caption,
    dv_qa,
    easy_vqa,
    figure_qa,
    hub,
    info_qa,
    plot_qa,
    st_vqa,
    tally_qa,
    vqa_v2,
)
from vlmprune.data.sources.common import DatasetUnavailable, LayoutError, Target, unavailable
from vlmprune.metrics import is_known


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its source, split mapping, prompt style, answer length and metric.

    ``splits`` maps the workflow's split names (``train``, ``val``) to the source's own.
    ``options`` are handed to the source's loader as keyword arguments.
    """

    name: str
    source: str
    splits: Mapping[str, str]
    metric: str
    style: str
    max_new_tokens: int
    options: Mapping[str, Any] = field(default_factory=dict)
    hub_id: str | None = None
    how_to_get: str = ""
    #: A second per-sample metric recorded beside the first (Molmo also reports exact match on these).
    secondary_metric: str | None = None


Loader = Callable[..., datasets.Dataset]


def _load_easy_vqa(
    spec: DatasetSpec, split: str, local_path: str | None = None
) -> datasets.Dataset:
    return easy_vqa.load_records(
        spec.splits[split], metric=spec.metric, style=spec.style, **spec.options
    )


def _target(spec: DatasetSpec) -> Target:
    return Target(spec.name, spec.metric, spec.style)


def _load_hub(spec: DatasetSpec, split: str, local_path: str | None = None) -> datasets.Dataset:
    """A hub dataset; a local copy in the official VQA JSON layout (OK-VQA) goes to that layout's reader."""
    options = dict(spec.options)
    vqa_json = options.pop("vqa_json", None)
    if local_path is not None and vqa_json is not None:
        vqa_split = vqa_json["splits"][split]
        if vqa_v2.has_layout(local_path, vqa_split, vqa_json["questions"]):
            return vqa_v2.load_records(
                _target(spec),
                vqa_split,
                local_path,
                questions=vqa_json["questions"],
                annotations=vqa_json["annotations"],
                answer_key=vqa_json["answer_key"],
                how_to_get=spec.how_to_get,
            )
    assert spec.hub_id is not None, f"hub dataset {spec.name!r} needs a hub_id"
    return hub.load_records(
        _target(spec),
        spec.hub_id,
        spec.splits[split],
        local_path=local_path,
        how_to_get=spec.how_to_get,
        **options,
    )


def _local_loader(module: Any) -> Loader:
    """The SOURCES entry of a source distributed as files: ``module.load_records(target, split, local_path, ...)``."""

    def load(spec: DatasetSpec, split: str, local_path: str | None = None) -> datasets.Dataset:
        return module.load_records(
            _target(spec),
            spec.splits[split],
            local_path,
            how_to_get=spec.how_to_get,
            **spec.options,
        )

    return load


SOURCES: dict[str, Loader] = {
    "easy_vqa": _load_easy_vqa,
    "hub": _load_hub,
    "vqa_v2": _local_loader(vqa_v2),
    "info_qa": _local_loader(info_qa),
    "st_vqa": _local_loader(st_vqa),
    "tally_qa": _local_loader(tally_qa),
    "plot_qa": _local_loader(plot_qa),
    "figure_qa": _local_loader(figure_qa),
    "dv_qa": _local_loader(dv_qa),
    "coco_caption": _local_loader(coco_caption),
}

# Molmo's default evaluation length (``max_new_tokens = 12`` in launch_scripts/utils.py); captions need more.
SHORT_ANSWER = 12
CAPTION_LENGTH = 64

MMMU_SUBJECTS = (
    "Accounting", "Agriculture", "Architecture_and_Engineering", "Art", "Art_Theory", "Basic_Medical_Science",
    "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science", "Design",
    "Diagnostics_and_Laboratory_Medicine", "Economics", "Electronics", "Energy_and_Power", "Finance",
    "Geography", "History", "Literature", "Manage", "Marketing", "Materials", "Math", "Mechanical_Engineering",
    "Music", "Pharmacy", "Physics", "Psychology", "Public_Health", "Sociology",
)  # fmt: skip

_COCO_IMAGES = (
    "COCO 2014 images from https://cocodataset.org/#download (train2014.zip, val2014.zip)"
)
_HUB_HOW = "`hf download {} --repo-type dataset --local-dir DIR` on a machine with network, then copy DIR here"

SEED_DATASETS: list[DatasetSpec] = [
    DatasetSpec(
        "coco_2014_vqa", "vqa_v2", {"train": "train2014", "val": "val2014"}, "vqa_official", "vqa2", SHORT_ANSWER,
        options={"questions": vqa_v2.VQA_V2_FILES["questions"], "annotations": vqa_v2.VQA_V2_FILES["annotations"]},
        how_to_get="questions and annotations from https://visualqa.org/download.html (v2_Questions_*_mscoco.zip, "
        f"v2_Annotations_*_mscoco.zip) unzipped into one directory, with {_COCO_IMAGES} unzipped beside them",
    ),
    DatasetSpec(
        "text_vqa", "hub", {"train": "train", "val": "validation"}, "vqa_molmo", "text_vqa", SHORT_ANSWER,
        options={"adapter": "text_vqa"}, hub_id="facebook/textvqa", how_to_get=_HUB_HOW.format("facebook/textvqa"),
    ),
    DatasetSpec(
        "okvqa", "hub", {"train": "train", "val": "validation"}, "vqa_molmo", "okvqa", SHORT_ANSWER,
        options={
            "adapter": "okvqa",
            "vqa_json": {**vqa_v2.OKVQA_FILES, "answer_key": "raw_answer", "splits": {"train": "train2014", "val": "val2014"}},
        },
        hub_id="HuggingFaceM4/OK-VQA",
        how_to_get="the hub's parquet export (`hf download HuggingFaceM4/OK-VQA --repo-type dataset --revision "
        "refs/convert/parquet --local-dir DIR`), or the OK-VQA v1.1 question and annotation JSON from "
        f"https://okvqa.allenai.org/download.html in one directory with {_COCO_IMAGES} beside them",
    ),
    DatasetSpec(
        "science_qa_img", "hub", {"train": "train", "val": "validation"}, "mc", "science_qa", SHORT_ANSWER,
        options={"adapter": "science_qa"}, hub_id="derek-thomas/ScienceQA", how_to_get=_HUB_HOW.format("derek-thomas/ScienceQA"),
    ),
    DatasetSpec(
        "doc_qa", "hub", {"train": "train", "val": "validation"}, "anls", "doc_qa", SHORT_ANSWER,
        secondary_metric="exact_match", options={"adapter": "doc_qa"}, hub_id="HuggingFaceM4/DocumentVQA",
        how_to_get=_HUB_HOW.format("HuggingFaceM4/DocumentVQA"),
    ),
    DatasetSpec(
        "chart_qa", "hub", {"train": "train", "val": "val"}, "relaxed_correctness", "chart_qa", SHORT_ANSWER,
        secondary_metric="exact_match", options={"adapter": "chart_qa"}, hub_id="HuggingFaceM4/ChartQA", how_to_get=_HUB_HOW.format("HuggingFaceM4/ChartQA"),
    ),
    DatasetSpec(
        "info_qa", "info_qa", {"train": "train", "val": "val"}, "anls", "info_qa", SHORT_ANSWER,
        secondary_metric="exact_match",
        how_to_get="register at https://rrc.cvc.uab.es/?ch=17 and download Task 3 (InfographicVQA): the annotation "
        "JSON files and the images, unzipped into one directory (images under images/)",
    ),
    DatasetSpec(
        "plot_qa", "plot_qa", {"train": "train", "val": "val"}, "relaxed_correctness", "plot_qa", SHORT_ANSWER,
        how_to_get="images and qa_pairs_V2.json per split from https://github.com/NiteshMethani/PlotQA, "
        "as {split}/png/ and {split}/qa_pairs_V2.json",
    ),
    DatasetSpec(
        "figure_qa", "figure_qa", {"train": "train1", "val": "validation1"}, "exact_match", "figure_qa", SHORT_ANSWER,
        how_to_get="figureqa-train1-v1.tar.gz and figureqa-validation1-v1.tar.gz from "
        "https://www.microsoft.com/en-us/research/project/figureqa-dataset/, extracted into one directory",
    ),
    DatasetSpec(
        "dv_qa", "dv_qa", {"train": "train", "val": "val_easy"}, "exact_match", "dv_qa", SHORT_ANSWER,
        how_to_get="images and question-answer files from https://github.com/kushalkafle/DVQA_dataset, "
        "unzipped into one directory (images/, qa/)",
    ),
    DatasetSpec(
        "mmmu", "hub", {"train": "dev", "val": "validation"}, "mmmu", "mmmu", SHORT_ANSWER,
        options={"adapter": "mmmu", "configs": MMMU_SUBJECTS}, hub_id="MMMU/MMMU", how_to_get=_HUB_HOW.format("MMMU/MMMU"),
    ),
    DatasetSpec(
        "coco_caption", "coco_caption", {"train": "train", "val": "val"}, "cider", "coco_captioning", CAPTION_LENGTH,
        how_to_get="annotations_trainval2014.zip from https://cocodataset.org/#download (or Karpathy's "
        f"dataset_coco.json) with {_COCO_IMAGES} beside it",
    ),
    DatasetSpec(
        "tally_qa", "tally_qa", {"train": "train", "val": "test"}, "exact_match", "tally_qa", SHORT_ANSWER,
        how_to_get="tallyqa.zip from https://github.com/manoja328/tallyqa (train.json, test.json) unzipped with "
        f"{_COCO_IMAGES} and the Visual Genome images (VG_100K/, VG_100K_2/) beside it",
    ),
    DatasetSpec(
        "st_qa", "st_vqa", {"train": "train", "val": "heldout"}, "anls", "st_qa", SHORT_ANSWER,
        secondary_metric="exact_match",
        how_to_get="register at https://rrc.cvc.uab.es/?ch=11 and download Task 3 (train_task_3.json, "
        "test_task_3.json) and the images, unzipped into one directory",
    ),
]  # fmt: skip

_EASY_VQA_HOW = "shipped with the `easy-vqa` PyPI package (installed by `make demo`)"

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            "easy_vqa",
            "easy_vqa",
            {"train": "train", "val": "val"},
            "exact_match",
            "vqa2",
            4,
            how_to_get=_EASY_VQA_HOW,
        ),
        *(
            DatasetSpec(
                f"easy_vqa_{kind}",
                "easy_vqa",
                {"train": "train", "val": "val"},
                "exact_match",
                "vqa2",
                4,
                options={"question_type": kind},
                how_to_get=_EASY_VQA_HOW,
            )
            for kind in ("color", "shape", "yesno")
        ),
        *SEED_DATASETS,
    ]
}


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(
            f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}"
        ) from None


def load_split(
    name: str, split: str, *, local_path: str | None = None, metric: str | None = None
) -> datasets.Dataset:
    """Records of one split of a registered dataset, from its source or from ``local_path``.

    ``metric`` (the config's ``datasets.<name>.metric``) replaces the registered metric. Raises
    ``DatasetUnavailable`` when the data is neither cached nor given as a local path, and
    ``LayoutError`` when the local path lacks a file, key or column of the source's layout.
    """
    spec = get_spec(name)
    if split not in spec.splits:
        raise KeyError(
            f"dataset {name!r} has no split {split!r}; its splits are {sorted(spec.splits)}"
        )
    if metric is not None:
        if not is_known(metric):
            raise KeyError(f"dataset {name!r}: unknown metric {metric!r} (datasets.{name}.metric)")
        spec = dataclasses.replace(spec, metric=metric)
    return SOURCES[spec.source](spec, split, local_path=local_path)


def is_available(name: str, local_path: str | None = None) -> bool:
    """Whether the dataset's data is here: easy-VQA always; a configured path that exists; a hub dataset in the cache."""
    spec = get_spec(name)
    if spec.source == "easy_vqa":
        return True
    if local_path is not None:
        return Path(local_path).expanduser().exists()
    return spec.hub_id is not None and hub.is_cached(spec.hub_id)


def available_datasets(paths: Mapping[str, str]) -> list[str]:
    """The registered datasets whose data is present (what ``datasets: all`` expands to), in registry order.

    ``paths`` maps dataset names to their configured local paths (``datasets.<name>.path``).
    """
    return [name for name in DATASETS if is_available(name, paths.get(name))]


def require_available(name: str, local_path: str | None = None) -> None:
    """Raise ``DatasetUnavailable`` (naming the dataset, hub id and config key) unless ``is_available``."""
    if not is_available(name, local_path):
        spec = get_spec(name)
        if local_path:
            reason = f"local path {local_path} does not exist"
        else:
            reason = "no local path is configured and it is not in the local Hugging Face cache"
        raise unavailable(name, spec.hub_id, reason, spec.how_to_get)


__all__ = [
    "DATASETS",
    "SOURCES",
    "DatasetSpec",
    "DatasetUnavailable",
    "LayoutError",
    "available_datasets",
    "get_spec",
    "is_available",
    "load_split",
    "require_available",
]
