"""Each dataset source against a tiny fixture written in its published layout; registry and error paths."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import datasets
import pytest
from PIL import Image

from vlmprune.data.records import RECORD_COLUMNS
from vlmprune.data.registry import (
    DATASETS,
    SOURCES,
    available_datasets,
    get_spec,
    load_split,
    require_available,
)
from vlmprune.data.sources import hub
from vlmprune.data.sources.common import DatasetUnavailable, LayoutError
from vlmprune.metrics import METRICS, is_known

SEED_NAMES = [
    "coco_2014_vqa", "text_vqa", "okvqa", "science_qa_img", "doc_qa", "chart_qa", "info_qa",
    "plot_qa", "figure_qa", "dv_qa", "mmmu", "coco_caption", "tally_qa", "st_qa",
]  # fmt: skip


@pytest.fixture(autouse=True)
def isolated_datasets_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parquet copies are cached under a temporary directory, not the user's Hugging Face cache."""
    monkeypatch.setattr(
        datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("hf-datasets-cache")
    )


def write_image(path: Path, color: str = "red", fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), color).save(path, format=fmt)
    return path


def image_bytes(color: str) -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def write_parquet(path: Path, rows: dict, features: datasets.Features) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(path))


def check_records(ds: datasets.Dataset, name: str) -> None:
    spec = get_spec(name)
    assert list(ds.column_names) == list(RECORD_COLUMNS)
    assert set(ds["metric"]) == {spec.metric} and set(ds["style"]) == {spec.style}
    assert len(set(ds["sample_id"])) == len(ds)
    assert all(sid.startswith(f"{name}/") for sid in ds["sample_id"])
    assert ds[0]["image"].size == (8, 8)


# --- the registry ---------------------------------------------------------------------------


def test_registry_has_every_seed_dataset_with_a_known_metric() -> None:
    assert [n for n in DATASETS if not n.startswith("easy_vqa")] == SEED_NAMES
    for spec in DATASETS.values():
        assert set(spec.splits) == {"train", "val"}, spec.name
        assert spec.source in SOURCES and is_known(spec.metric) and spec.max_new_tokens > 0
        assert spec.how_to_get
    assert get_spec("tally_qa").splits["val"] == "test"
    assert get_spec("st_qa").splits["val"] == "heldout"
    assert get_spec("mmmu").splits == {"train": "dev", "val": "validation"}


def test_available_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = tmp_path / "cache" / "HuggingFaceM4___ChartQA"
    cached.mkdir(parents=True)
    (cached / "dataset_info.json").write_text("{}")
    monkeypatch.setattr(
        hub, "cache_locations", lambda hub_id: [tmp_path / "cache" / hub_id.replace("/", "___")]
    )
    (tmp_path / "tally").mkdir()
    found = available_datasets(
        {"tally_qa": str(tmp_path / "tally"), "info_qa": str(tmp_path / "missing")}
    )
    assert found == [
        "easy_vqa",
        "easy_vqa_color",
        "easy_vqa_shape",
        "easy_vqa_yesno",
        "chart_qa",
        "tally_qa",
    ]


def test_hub_dataset_offline_without_cache_names_dataset_hub_id_and_config_key() -> None:
    with pytest.raises(DatasetUnavailable) as err:
        load_split("text_vqa", "val")
    message = str(err.value)
    assert (
        "'text_vqa'" in message
        and "facebook/textvqa" in message
        and "datasets.text_vqa.path" in message
    )


def test_manual_download_dataset_without_path_names_the_config_key() -> None:
    with pytest.raises(
        DatasetUnavailable, match=r"'info_qa'.*datasets\.info_qa\.path.*rrc\.cvc\.uab\.es"
    ):
        load_split("info_qa", "val")
    with pytest.raises(DatasetUnavailable, match=r"datasets\.st_qa\.path"):
        require_available("st_qa")


def test_metric_override_from_config(tmp_path: Path) -> None:
    root = _tally_fixture(tmp_path)
    ds = load_split("tally_qa", "val", local_path=str(root), metric="exact_match")
    assert set(ds["metric"]) == {"exact_match"}
    with pytest.raises(KeyError, match="datasets.tally_qa.metric"):
        load_split("tally_qa", "val", local_path=str(root), metric="bleu")


# --- local-file sources ---------------------------------------------------------------------


def _vqa_fixture(
    root: Path, questions_file: str, annotations_file: str, with_raw: bool = False
) -> None:
    for image_id, color in [(42, "red"), (7, "blue")]:
        write_image(root / "val2014" / f"COCO_val2014_{image_id:012d}.jpg", color, "JPEG")
    questions = [
        {"image_id": 42, "question": "What color is it?", "question_id": 420},
        {"image_id": 42, "question": "How many?", "question_id": 421},
        {"image_id": 7, "question": "Is it blue?", "question_id": 70},
    ]
    answers = {420: ["red"] * 9 + ["maroon"], 421: ["2"] * 10, 70: ["yes"] * 10}

    def answer_list(words: list[str]) -> list[dict]:
        out = []
        for i, w in enumerate(words, start=1):
            entry = {"answer": w, "answer_confidence": "yes", "answer_id": i}
            if with_raw:
                entry = {
                    "answer": w,
                    "raw_answer": w.upper(),
                    "answer_confidence": "yes",
                    "answer_id": i,
                }
            out.append(entry)
        return out

    annotations = [
        {"question_id": q["question_id"], "image_id": q["image_id"], "question_type": "what", "answer_type": "other",
         "multiple_choice_answer": answers[q["question_id"]][0], "answers": answer_list(answers[q["question_id"]])}
        for q in questions
    ]  # fmt: skip
    write_json(root / questions_file, {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {},
                                       "data_subtype": "val2014", "questions": questions})  # fmt: skip
    write_json(
        root / annotations_file,
        {"info": {}, "license": {}, "data_subtype": "val2014", "annotations": annotations},
    )


def test_coco_2014_vqa(tmp_path: Path) -> None:
    _vqa_fixture(
        tmp_path, "v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json"
    )
    ds = load_split("coco_2014_vqa", "val", local_path=str(tmp_path))
    check_records(ds, "coco_2014_vqa")
    assert len(ds) == 3  # one record per question, two questions share image 42
    first = ds[0]
    assert (
        first["sample_id"] == "coco_2014_vqa/val2014/420"
        and first["question"] == "What color is it?"
    )
    assert len(first["answers"]) == 10 and first["choices"] == []
    assert METRICS[first["metric"]]("Red", first["answers"]) == 1.0


def test_coco_2014_vqa_wrong_layout(tmp_path: Path) -> None:
    _vqa_fixture(
        tmp_path, "v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json"
    )
    (tmp_path / "v2_mscoco_val2014_annotations.json").unlink()
    with pytest.raises(LayoutError, match="v2_mscoco_val2014_annotations.json"):
        load_split("coco_2014_vqa", "val", local_path=str(tmp_path))
    with pytest.raises(LayoutError, match="not a directory"):
        load_split("coco_2014_vqa", "val", local_path=str(tmp_path / "nowhere"))


def test_coco_2014_vqa_missing_image(tmp_path: Path) -> None:
    _vqa_fixture(
        tmp_path, "v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json"
    )
    (tmp_path / "val2014" / "COCO_val2014_000000000007.jpg").unlink()
    with pytest.raises(LayoutError, match="COCO_val2014_000000000007.jpg"):
        load_split("coco_2014_vqa", "val", local_path=str(tmp_path))


def test_okvqa_from_official_json(tmp_path: Path) -> None:
    _vqa_fixture(
        tmp_path,
        "OpenEnded_mscoco_val2014_questions.json",
        "mscoco_val2014_annotations.json",
        with_raw=True,
    )
    ds = load_split("okvqa", "val", local_path=str(tmp_path))
    check_records(ds, "okvqa")
    assert ds[0]["answers"][0] == "RED"  # raw_answer, as Molmo scores


def test_info_qa(tmp_path: Path) -> None:
    write_image(tmp_path / "images" / "10002.jpeg", "green", "JPEG")
    data = [
        {"questionId": 65718, "question": "What percentage?", "image_local_name": "10002.jpeg", "image_url": "http://x",
         "ocr_output_file": "10002.json", "answers": ["35%", "35"], "data_split": "val", "answer_type": ["single span"],
         "evidence": ["Text"], "operation/reasoning": []},
        {"questionId": 65719, "question": "Which year?", "image_local_name": "10002.jpeg", "image_url": "http://x",
         "ocr_output_file": "10002.json", "answers": ["2019"], "data_split": "val", "answer_type": ["single span"],
         "evidence": ["Text"], "operation/reasoning": []},
    ]  # fmt: skip
    write_json(tmp_path / "infographicsVQA_val_v1.0_withQT.json",
               {"dataset_name": "infographicVQA", "dataset_version": "1.0", "dataset_split": "val", "data": data})  # fmt: skip
    ds = load_split("info_qa", "val", local_path=str(tmp_path))
    check_records(ds, "info_qa")
    assert ds["sample_id"] == ["info_qa/val/65718", "info_qa/val/65719"] and ds[0]["answers"] == [
        "35%",
        "35",
    ]
    with pytest.raises(LayoutError, match="infographicsVQA_train_v1.0.json"):
        load_split("info_qa", "train", local_path=str(tmp_path))


def test_st_qa_holds_out_1024_training_questions(tmp_path: Path) -> None:
    write_image(tmp_path / "coco-text" / "COCO_train2014_000000000036.jpg", "red", "JPEG")
    write_image(tmp_path / "textVQA" / "train_images" / "a.jpg", "blue", "JPEG")
    data = [
        {"question_id": 1000 + i, "question": f"What is written {i}?", "answers": ["stop", "STOP"],
         "file_path": "coco-text/COCO_train2014_000000000036.jpg" if i % 2 else "textVQA/train_images/a.jpg",
         "file_name": "x.jpg", "dataset": "coco-text", "set_name": "train"}
        for i in range(1030)
    ]  # fmt: skip
    write_json(
        tmp_path / "train_task_3.json",
        {
            "dataset_name": "ST-VQA",
            "dataset_version": "1.0",
            "dataset_split": "train",
            "data": data,
        },
    )
    val = load_split("st_qa", "val", local_path=str(tmp_path))
    train = load_split("st_qa", "train", local_path=str(tmp_path))
    check_records(val, "st_qa")
    assert len(val) == 1024 and len(train) == 6
    ids = {s.split("/")[-1] for s in val["sample_id"]} | {
        s.split("/")[-1] for s in train["sample_id"]
    }
    assert ids == {str(1000 + i) for i in range(1030)}
    assert (
        load_split("st_qa", "train", local_path=str(tmp_path))["sample_id"] == train["sample_id"]
    )  # deterministic


def _tally_fixture(root: Path) -> Path:
    write_image(root / "val2014" / "COCO_val2014_000000000042.jpg", "red", "JPEG")
    write_image(root / "VG_100K_2" / "1.jpg", "blue", "JPEG")
    test = [
        {"image": "val2014/COCO_val2014_000000000042.jpg", "answer": 2, "data_source": "amt", "question": "How many dogs?",
         "image_id": 42, "question_id": 1, "issimple": True},
        {"image": "VG_100K_2/1.jpg", "answer": 0, "data_source": "imported_genome", "question": "How many cats are there?",
         "image_id": 1, "question_id": 2, "issimple": False},
    ]  # fmt: skip
    write_json(root / "test.json", test)
    write_json(root / "train.json", [{k: v for k, v in q.items() if k != "issimple"} for q in test])
    return root


def test_tally_qa(tmp_path: Path) -> None:
    ds = load_split("tally_qa", "val", local_path=str(_tally_fixture(tmp_path)))
    check_records(ds, "tally_qa")
    assert ds["answers"] == [["2"], ["0"]]
    # Molmo's em: "0" matches, "none" does not (count_exact_match, a departure, would take it).
    assert METRICS[ds[1]["metric"]]("0", ds[1]["answers"]) == 1.0
    assert METRICS[ds[1]["metric"]]("none", ds[1]["answers"]) == 0.0
    assert len(load_split("tally_qa", "train", local_path=str(tmp_path))) == 2


def test_tally_qa_wrong_layout(tmp_path: Path) -> None:
    write_json(
        tmp_path / "test.json", [{"image": "a.jpg", "question": "How many?", "question_id": 1}]
    )
    with pytest.raises(LayoutError, match=r"lacks key\(s\) \['answer'\]"):
        load_split("tally_qa", "val", local_path=str(tmp_path))
    with pytest.raises(LayoutError, match="train.json"):
        load_split("tally_qa", "train", local_path=str(tmp_path))


def test_plot_qa(tmp_path: Path) -> None:
    write_image(tmp_path / "val" / "png" / "0.png", "red")
    write_image(tmp_path / "val" / "png" / "1.png", "blue")
    qa = [
        {"image_index": 0, "question_string": "What is the maximum value?", "answer": 2.0, "question_id": 0, "template": "data_retrieval", "type": "bar"},
        {"image_index": 0, "question_string": "Does the line increase?", "answer": "Yes", "question_id": 1, "template": "structural", "type": "bar"},
        {"image_index": 1, "question_string": "What is the average?", "answer": 3.25, "question_id": 2, "template": "reasoning", "type": "line"},
    ]  # fmt: skip
    write_json(tmp_path / "val" / "qa_pairs_V2.json", {"qa_pairs": qa})
    ds = load_split("plot_qa", "val", local_path=str(tmp_path))
    check_records(ds, "plot_qa")
    assert ds["answers"] == [["2"], ["Yes"], ["3.25"]]
    assert METRICS[ds[2]["metric"]]("3.3", ds[2]["answers"]) == 1.0


def test_figure_qa(tmp_path: Path) -> None:
    write_image(tmp_path / "validation1" / "png" / "0.png", "red")
    qa = [
        {"image_index": 0, "question_id": 0, "question_string": "Is Red the minimum?", "answer": 1, "color1_name": "Red", "color2_name": "--None--"},
        {"image_index": 0, "question_id": 1, "question_string": "Is Red the maximum?", "answer": 0, "color1_name": "Red", "color2_name": "--None--"},
    ]  # fmt: skip
    write_json(tmp_path / "validation1" / "qa_pairs.json", {"qa_pairs": qa})
    ds = load_split("figure_qa", "val", local_path=str(tmp_path))
    check_records(ds, "figure_qa")
    assert ds["answers"] == [["yes", "1"], ["no", "0"]]
    assert METRICS["exact_match"]("Yes", ds[0]["answers"]) == 1.0


def test_dv_qa(tmp_path: Path) -> None:
    write_image(tmp_path / "images" / "bar_val_easy_00000000.png", "red")
    qa = [
        {"image": "bar_val_easy_00000000.png", "question": "How many bars are there?", "answer": "3", "question_id": 10, "template_id": "structure", "answer_bbox": []},
        {"image": "bar_val_easy_00000000.png", "question": "What is the label of the first bar?", "answer": "coat", "question_id": 11, "template_id": "data", "answer_bbox": [1, 2, 3, 4]},
    ]  # fmt: skip
    write_json(tmp_path / "qa" / "val_easy_qa.json", qa)
    ds = load_split("dv_qa", "val", local_path=str(tmp_path))
    check_records(ds, "dv_qa")
    assert ds["sample_id"] == ["dv_qa/val_easy/10", "dv_qa/val_easy/11"] and ds["answers"] == [
        ["3"],
        ["coat"],
    ]


def test_coco_caption_official_layout(tmp_path: Path) -> None:
    write_image(tmp_path / "val2014" / "COCO_val2014_000000000042.jpg", "red", "JPEG")
    write_image(tmp_path / "val2014" / "COCO_val2014_000000000007.jpg", "blue", "JPEG")
    write_json(tmp_path / "annotations" / "captions_val2014.json", {
        "info": {}, "licenses": [],
        "images": [{"id": 42, "file_name": "COCO_val2014_000000000042.jpg", "height": 8, "width": 8},
                   {"id": 7, "file_name": "COCO_val2014_000000000007.jpg", "height": 8, "width": 8}],
        "annotations": [{"image_id": 42, "id": 1, "caption": "A red square."}, {"image_id": 7, "id": 2, "caption": "A blue square."},
                        {"image_id": 42, "id": 3, "caption": "Something red."}],
    })  # fmt: skip
    ds = load_split("coco_caption", "val", local_path=str(tmp_path))
    check_records(ds, "coco_caption")
    assert ds["sample_id"] == ["coco_caption/val/42", "coco_caption/val/7"]
    assert ds[0]["answers"] == ["A red square.", "Something red."] and ds[0]["question"] == ""


def test_coco_caption_karpathy_layout(tmp_path: Path) -> None:
    write_image(tmp_path / "val2014" / "COCO_val2014_000000000042.jpg", "red", "JPEG")
    write_image(tmp_path / "train2014" / "COCO_train2014_000000000009.jpg", "blue", "JPEG")

    def entry(filepath: str, cocoid: int, split: str, captions: list[str]) -> dict:
        return {"filepath": filepath, "filename": f"COCO_{filepath}_{cocoid:012d}.jpg", "cocoid": cocoid, "imgid": cocoid,
                "split": split, "sentids": list(range(len(captions))),
                "sentences": [{"raw": c, "tokens": c.lower().split(), "imgid": cocoid, "sentid": i} for i, c in enumerate(captions)]}  # fmt: skip

    write_json(tmp_path / "dataset_coco.json", {"dataset": "coco", "images": [
        entry("val2014", 42, "test", ["A red square.", "Red."]), entry("train2014", 9, "restval", ["A blue square."])]})  # fmt: skip
    val = load_split("coco_caption", "val", local_path=str(tmp_path))
    train = load_split("coco_caption", "train", local_path=str(tmp_path))
    assert val["sample_id"] == ["coco_caption/val/42"] and val[0]["answers"] == [
        "A red square.",
        "Red.",
    ]
    assert train["sample_id"] == ["coco_caption/train/9"]


# --- hub sources, from local copies in the hub's published layout ---------------------------


def test_text_vqa_from_parquet_copy(tmp_path: Path) -> None:
    features = datasets.Features({
        "image_id": datasets.Value("string"), "question_id": datasets.Value("int32"), "question": datasets.Value("string"),
        "question_tokens": datasets.List(datasets.Value("string")), "image": datasets.Image(),
        "image_width": datasets.Value("int32"), "image_height": datasets.Value("int32"),
        "flickr_original_url": datasets.Value("string"), "flickr_300k_url": datasets.Value("string"),
        "answers": datasets.List(datasets.Value("string")), "image_classes": datasets.List(datasets.Value("string")),
        "set_name": datasets.Value("string"),
    })  # fmt: skip
    rows = {
        "image_id": ["003a8ae2ef43b901", "003a8ae2ef43b901"], "question_id": [34602, 34603],
        "question": ["what is the brand?", "what does it say?"], "question_tokens": [["what"], ["what"]],
        "image": [image_bytes("red"), image_bytes("red")], "image_width": [8, 8], "image_height": [8, 8],
        "flickr_original_url": ["u", "u"], "flickr_300k_url": ["u", "u"],
        "answers": [["nokia"] * 10, ["stop"] * 7 + ["halt"] * 3], "image_classes": [["phone"], ["sign"]], "set_name": ["val", "val"],
    }  # fmt: skip
    write_parquet(tmp_path / "data" / "validation-00000-of-00001.parquet", rows, features)
    write_parquet(tmp_path / "data" / "train-00000-of-00001.parquet", rows, features)
    ds = load_split("text_vqa", "val", local_path=str(tmp_path))
    check_records(ds, "text_vqa")
    assert ds["sample_id"] == ["text_vqa/validation/34602", "text_vqa/validation/34603"]
    assert ds[1]["answers"] == ["stop"] * 7 + ["halt"] * 3


@pytest.mark.parametrize("as_sequence", [False, True], ids=["list-of-structs", "struct-of-lists"])
def test_okvqa_from_parquet_export(tmp_path: Path, as_sequence: bool) -> None:
    answer = datasets.Features({"answer": datasets.Value("string"), "raw_answer": datasets.Value("string"),
                                "answer_confidence": datasets.Value("string"), "answer_id": datasets.Value("int64")})  # fmt: skip
    features = datasets.Features({
        "image": datasets.Image(), "question_type": datasets.Value("string"), "confidence": datasets.Value("int32"),
        "answers": datasets.Sequence(answer) if as_sequence else datasets.List(answer), "image_id": datasets.Value("int64"),
        "answer_type": datasets.Value("string"), "question_id": datasets.Value("int64"), "question": datasets.Value("string"),
    })  # fmt: skip
    answers = [
        {"answer": "race", "raw_answer": "racing", "answer_confidence": "yes", "answer_id": i}
        for i in range(1, 11)
    ]
    if as_sequence:  # how a script's Sequence({...}) feature is exported
        answers = {key: [a[key] for a in answers] for key in answers[0]}
    rows = {"image": [image_bytes("red")], "question_type": ["other"], "confidence": [3], "answers": [answers],
            "image_id": [187611], "answer_type": ["other"], "question_id": [1876115], "question": ["What sport is this?"]}  # fmt: skip
    write_parquet(
        tmp_path / "default" / "validation" / "0000.parquet", rows, features
    )  # refs/convert/parquet layout
    ds = load_split("okvqa", "val", local_path=str(tmp_path))
    check_records(ds, "okvqa")
    assert ds[0]["answers"] == ["racing"] * 10 and ds[0]["sample_id"] == "okvqa/validation/1876115"


def test_science_qa_img_keeps_questions_with_images(tmp_path: Path) -> None:
    text = datasets.Value("string")
    features = datasets.Features({
        "image": datasets.Image(), "question": text, "choices": datasets.List(text), "answer": datasets.Value("int8"),
        "hint": text, "task": text, "grade": text, "subject": text, "topic": text, "category": text, "skill": text,
        "lecture": text, "solution": text,
    })  # fmt: skip
    rows = {
        "image": [image_bytes("red"), None, image_bytes("blue")],
        "question": ["Which animal is this?", "What is 2+2?", "Which is a mammal?"],
        "choices": [["cat", "dog"], ["3", "4"], ["shark", "whale", "trout"]], "answer": [1, 1, 1],
        "hint": ["Look at the picture.", "", ""],
        **{k: ["x"] * 3 for k in ["task", "grade", "subject", "topic", "category", "skill", "lecture", "solution"]},
    }  # fmt: skip
    write_parquet(tmp_path / "data" / "validation-00000-of-00001.parquet", rows, features)
    ds = load_split("science_qa_img", "val", local_path=str(tmp_path))
    check_records(ds, "science_qa_img")
    assert ds["sample_id"] == ["science_qa_img/validation/0", "science_qa_img/validation/2"]
    assert (
        ds[0]["question"] == "Which animal is this?" and ds[0]["context"] == "Look at the picture."
    )
    assert ds[1]["context"] == ""
    # The reference is the correct option's letter (Molmo scores the option index).
    assert ds[1]["answers"] == ["B"] and ds[1]["choices"] == ["shark", "whale", "trout"]
    assert METRICS["mc"]("B", ds[1]["answers"], choices=ds[1]["choices"]) == 1.0


def test_doc_qa_from_save_to_disk(tmp_path: Path) -> None:
    text = datasets.Value("string")
    features = datasets.Features({
        "questionId": datasets.Value("int32"), "question": text, "question_types": datasets.List(text),
        "image": datasets.Image(), "docId": datasets.Value("int32"), "ucsf_document_id": text,
        "ucsf_document_page_no": text, "answers": datasets.List(text),
    })  # fmt: skip
    rows = {"questionId": [49153], "question": ["What is the date?"], "question_types": [["form"]], "image": [image_bytes("red")],
            "docId": [14465], "ucsf_document_id": ["pybv0228"], "ucsf_document_page_no": ["81"], "answers": [["1/8/93", "Jan 8, 1993"]]}  # fmt: skip
    split = datasets.Dataset.from_dict(rows, features=features)
    datasets.DatasetDict({"validation": split, "train": split}).save_to_disk(
        str(tmp_path / "docvqa")
    )
    ds = load_split("doc_qa", "val", local_path=str(tmp_path / "docvqa"))
    check_records(ds, "doc_qa")
    assert (
        ds[0]["sample_id"] == "doc_qa/validation/49153"
        and METRICS["anls"]("1/8/93.", ds[0]["answers"]) > 0.8
    )


def test_chart_qa_and_missing_column(tmp_path: Path) -> None:
    features = datasets.Features({"image": datasets.Image(), "query": datasets.Value("string"),
                                  "label": datasets.List(datasets.Value("string")),
                                  "human_or_machine": datasets.ClassLabel(names=["human", "machine"])})  # fmt: skip
    rows = {"image": [image_bytes("red"), image_bytes("blue")], "query": ["What is the peak?", "Which year?"],
            "label": [["45"], ["2019"]], "human_or_machine": [0, 1]}  # fmt: skip
    write_parquet(tmp_path / "good" / "data" / "val-00000-of-00001.parquet", rows, features)
    ds = load_split("chart_qa", "val", local_path=str(tmp_path / "good"))
    check_records(ds, "chart_qa")
    assert ds["sample_id"] == ["chart_qa/val/0", "chart_qa/val/1"] and ds["answers"] == [
        ["45"],
        ["2019"],
    ]

    bad = datasets.Features({k: v for k, v in features.items() if k != "label"})
    write_parquet(
        tmp_path / "bad" / "data" / "val-00000-of-00001.parquet",
        {k: v for k, v in rows.items() if k != "label"},
        bad,
    )
    with pytest.raises(LayoutError, match=r"lacks column\(s\) \['label'\]"):
        load_split("chart_qa", "val", local_path=str(tmp_path / "bad"))
    with pytest.raises(LayoutError, match="train-\\*.parquet"):
        load_split("chart_qa", "train", local_path=str(tmp_path / "good"))


def _mmmu_features() -> datasets.Features:
    text = datasets.Value("string")
    return datasets.Features({
        "id": text, "question": text, "options": text, "explanation": text,
        **{f"image_{i}": datasets.Image() for i in range(1, 8)},
        "img_type": text, "answer": text, "topic_difficulty": text, "question_type": text, "subfield": text,
    })  # fmt: skip


def _mmmu_subject(root: Path, subject: str, color: str) -> None:
    features = _mmmu_features()
    rows = {
        "id": [f"validation_{subject}_1", f"validation_{subject}_2"],
        "question": ["<image 1> Which is larger?", "<image 1> What is the total?"],
        "options": ["['10', '20', '30']", "[]"], "explanation": ["", ""],
        "image_1": [image_bytes(color), image_bytes(color)], **{f"image_{i}": [None, None] for i in range(2, 8)},
        "img_type": ["['Tables']", "['Tables']"], "answer": ["C", "['1200', '1,200']"],
        "topic_difficulty": ["Easy", "Hard"], "question_type": ["multiple-choice", "open"], "subfield": ["x", "y"],
    }  # fmt: skip
    write_parquet(root / subject / "validation-00000-of-00001.parquet", rows, features)


def test_mmmu_concatenates_subjects(tmp_path: Path) -> None:
    _mmmu_subject(tmp_path, "Accounting", "red")
    _mmmu_subject(tmp_path, "Art", "blue")
    spec = dataclasses.replace(
        get_spec("mmmu"), options={"adapter": "mmmu", "configs": ("Accounting", "Art")}
    )
    ds = SOURCES["hub"](spec, "val", local_path=str(tmp_path))
    check_records(ds, "mmmu")
    assert len(ds) == 4 and ds[0]["sample_id"] == "mmmu/validation/validation_Accounting_1"
    assert ds[0]["choices"] == ["10", "20", "30"] and ds[0]["answers"] == ["C"]
    assert ds[1]["choices"] == [] and ds[1]["answers"] == ["1200", "1,200"]
    assert METRICS["mmmu"]("(C) 30", ds[0]["answers"], choices=ds[0]["choices"]) == 1.0
    assert METRICS["mmmu"]("The total is 1,200", ds[1]["answers"]) == 1.0
    with pytest.raises(LayoutError, match="Agriculture/"):
        load_split("mmmu", "val", local_path=str(tmp_path))


def test_mmmu_image_options_keep_image_1(tmp_path: Path) -> None:
    """Options that are images ("<image 2>", as the hub writes them) keep ``image_1`` as the record's image.

    Molmo's MMMU loader and MMMU's ``process_single_sample`` drop the image only when more than one
    option is an ``<img='path'>`` string; both, run on this row, return ``image_1``.
    """
    row = {
        "id": ["validation_Biology_1"], "question": ["<image 1> Which of the cells is a neuron?"],
        "options": ["['<image 2>', '<image 3>', '<image 4>']"], "explanation": [""],
        "image_1": [image_bytes("red")], "image_2": [image_bytes("green")], "image_3": [image_bytes("blue")],
        "image_4": [image_bytes("white")], **{f"image_{i}": [None] for i in range(5, 8)},
        "img_type": ["['Diagrams']"], "answer": ["B"], "topic_difficulty": ["Easy"],
        "question_type": ["multiple-choice"], "subfield": ["Cell biology"],
    }  # fmt: skip
    write_parquet(tmp_path / "Biology" / "validation-00000-of-00001.parquet", row, _mmmu_features())
    spec = dataclasses.replace(
        get_spec("mmmu"), options={"adapter": "mmmu", "configs": ("Biology",)}
    )
    record = SOURCES["hub"](spec, "val", local_path=str(tmp_path))[0]
    assert record["choices"] == ["<image 2>", "<image 3>", "<image 4>"] and record["answers"] == [
        "B"
    ]
    assert record["image"].convert("RGB").getpixel((0, 0)) == (255, 0, 0)


def test_sample_selection_random_or_first() -> None:
    import numpy as np

    from vlmprune.data.prepare import select_samples

    records = datasets.Dataset.from_dict({"sample_id": [f"s{i}" for i in range(10)]})
    first, warnings = select_samples(records, 3, seed=5, selection="first")
    assert first["sample_id"] == ["s0", "s1", "s2"] and warnings == []
    # random: the seeded permutation's first three, in dataset order (the default, as before).
    expected = sorted(np.random.default_rng(5).permutation(10)[:3].tolist())
    assert select_samples(records, 3, seed=5)[0]["sample_id"] == [f"s{i}" for i in expected]
    assert select_samples(records, 3, seed=5, selection="random")[0]["sample_id"] == [
        f"s{i}" for i in expected
    ]
    everything, warnings = select_samples(records, 50, seed=0, selection="first")
    assert len(everything) == 10 and "clamped to 10" in warnings[0]
    with pytest.raises(ValueError, match="evaluation.selection"):
        select_samples(records, 3, seed=0, selection="last")


def test_secondary_metrics_are_exact_match_where_molmo_reports_it() -> None:
    with_secondary = {
        name: spec.secondary_metric for name, spec in DATASETS.items() if spec.secondary_metric
    }
    assert with_secondary == {
        name: "exact_match" for name in ("chart_qa", "doc_qa", "info_qa", "st_qa")
    }
    assert all(is_known(metric) for metric in with_secondary.values())
