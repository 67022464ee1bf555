"""A corpus-level metric (CIDEr) is scored over the whole selection, not chunk by chunk."""

import math

from vlmprune.engine.evaluate import corpus_scores, score_answers
from vlmprune.engine.store import StoreWriter
from vlmprune.metrics import score_all

RECORDS = [
    {"answers": ["a dog runs on the grass", "a brown dog running"]},
    {"answers": ["two people ride bikes", "people riding bicycles on a road"]},
    {"answers": ["a plate of food on a table", "food served on a white plate"]},
]
PREDICTIONS = ["a dog running on grass", "a plate of food", "people ride bikes"]


def test_chunks_defer_corpus_metrics_and_the_store_gets_corpus_scores(tmp_path):
    assert all(math.isnan(s) for s in score_answers("cider", PREDICTIONS[:2], RECORDS[:2]))
    writer = StoreWriter(tmp_path / "full.h5", "fp", {"metric": "cider"})  # as the engine writes
    writer.append(["0", "1"], PREDICTIONS[:2], score_answers("cider", PREDICTIONS[:2], RECORDS[:2]))
    writer.append(["2"], PREDICTIONS[2:], score_answers("cider", PREDICTIONS[2:], RECORDS[2:]))
    store = writer.finish({}, corpus_scores("cider", writer.predictions(), RECORDS))
    corpus, per_sample = score_all("cider", PREDICTIONS, [r["answers"] for r in RECORDS])
    assert list(store.scores) == per_sample
    assert store.accuracy == corpus
    assert store.scores[0] > store.scores[1]  # the first caption matches its references best


def test_per_sample_metrics_need_no_corpus_pass():
    assert corpus_scores("exact_match", ["yes"], [{"answers": ["yes"]}]) is None


def test_stores_record_the_secondary_metric_on_the_cleaned_predictions(tmp_path):
    from types import SimpleNamespace

    from vlmprune.engine.evaluate import evaluate_variants

    records = [
        {"sample_id": "a", "answers": ["42"]},
        {"sample_id": "b", "answers": ["Total Sales"]},
        {"sample_id": "c", "answers": ["1999"]},
        {"sample_id": "d", "answers": ["red"]},
    ]
    generations = ["Answer: 42", "total sale", "1998", "blue"]
    # An adapter stand-in: no model is run (predict is given), the clean-up is Molmo's "Answer:"
    # rule.
    adapter = SimpleNamespace(
        blocks=[None, None], clean_answer=lambda text: text.split("Answer:")[-1].strip()
    )

    def predict(_adapter, batch, variants, _max_new_tokens):
        return {v: [generations[records.index(r)] for r in batch] for v in variants}

    stores = evaluate_variants(
        adapter,
        records,
        [()],
        [tmp_path / "full.h5"],
        metric="anls",
        secondary_metric="exact_match",
        max_new_tokens=4,
        batch_size=2,
        chunk_size=3,
        attrs={},
        identity={},
        predict=predict,
    )
    store = stores["full"]
    assert store.raw == generations and store.predictions == ["42", "total sale", "1998", "blue"]
    # ANLS: 1; 1 - 1/11 ("total sale" vs "total sales"); 1 - 1/4 ("1998" vs "1999"); "blue"/"red":
    # NL 3/4 >= 0.5 -> 0.
    assert store.scores.tolist() == [1.0, 1 - 1 / 11, 0.75, 0.0]
    # Exact match: only "42".
    assert (
        store.attrs["secondary_metric"] == "exact_match"
        and store.attrs["secondary_accuracy"] == 0.25
    )
