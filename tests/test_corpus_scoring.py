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
    writer = StoreWriter(tmp_path / "full.h5", "fp", {})
    writer.append(["0", "1"], PREDICTIONS[:2], score_answers("cider", PREDICTIONS[:2], RECORDS[:2]))
    writer.append(["2"], PREDICTIONS[2:], score_answers("cider", PREDICTIONS[2:], RECORDS[2:]))
    store = writer.finish({}, corpus_scores("cider", writer.predictions(), RECORDS))
    corpus, per_sample = score_all("cider", PREDICTIONS, [r["answers"] for r in RECORDS])
    assert list(store.scores) == per_sample
    assert store.accuracy == corpus
    assert store.scores[0] > store.scores[1]  # the first caption matches its references best


def test_per_sample_metrics_need_no_corpus_pass():
    assert corpus_scores("exact_match", ["yes"], [{"answers": ["yes"]}]) is None
