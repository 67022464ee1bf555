import time

import numpy as np
import pytest

from vlmprune.engine.store import StoreWriter, partial_path, read_store


def test_store_round_trip_and_atomic_rename(tmp_path):
    path = tmp_path / "full.h5"
    writer = StoreWriter(path, "fp", {"model": "m", "dataset": "d"})
    writer.append(["a", "b"], ["yes", "no"], [1.0, 0.0])
    assert not path.exists() and partial_path(path).exists()
    writer.append(["c"], ["blue"], [1.0])
    store = writer.finish({"seconds": 1.5})
    assert path.exists() and not partial_path(path).exists()
    assert store.sample_ids == ["a", "b", "c"]
    assert store.predictions == ["yes", "no", "blue"]
    np.testing.assert_array_equal(store.scores, [1.0, 0.0, 1.0])
    assert store.accuracy == pytest.approx(2 / 3)
    assert store.attrs["n"] == 3 and store.attrs["model"] == "m" and store.attrs["seconds"] == 1.5


def test_partial_store_resumes_only_with_the_same_fingerprint(tmp_path):
    path = tmp_path / "drop-1.h5"
    StoreWriter(path, "fp", {}).append(["a"], ["x"], [0.0])
    assert StoreWriter(path, "fp", {}).done == 1
    assert StoreWriter(path, "other inputs", {}).done == 0


def test_unreadable_partial_store_starts_over(tmp_path):
    path = tmp_path / "drop-1.h5"
    partial_path(path).write_bytes(b"not hdf5")
    assert StoreWriter(path, "fp", {}).done == 0


def test_the_same_content_gives_byte_identical_files(tmp_path):
    files = []
    for attempt in range(2):
        path = tmp_path / f"{attempt}.h5"
        writer = StoreWriter(path, "fp", {"model": "m"})
        writer.append(["a", "b"], ["x", "y"], [1.0, 0.0])
        writer.finish({})
        files.append(path.read_bytes())
        time.sleep(1.1)  # HDF5 object timestamps have one-second resolution
    assert files[0] == files[1]


def test_store_keeps_the_raw_generation_beside_the_prediction(tmp_path):
    path = tmp_path / "full.h5"
    writer = StoreWriter(path, "fp", {})
    writer.append(["a", "b"], ["4", "yes"], [1.0, 1.0], raw=["Answer: 4", "yes\nyes\nno"])
    writer.append(["c"], ["no"], [0.0])  # no clean-up given: raw is the prediction
    store = writer.finish({})
    assert store.predictions == ["4", "yes", "no"]
    assert store.raw == ["Answer: 4", "yes\nyes\nno", "no"]


def test_stores_written_before_raw_existed_stay_readable(tmp_path):
    import h5py

    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:  # the former layout: no "raw" column
        f.attrs["accuracy"] = 0.5
        f["sample_id"] = np.array(["a", "b"], dtype=object).astype(h5py.string_dtype("utf-8"))
        f["prediction"] = np.array(["x", "y"], dtype=object).astype(h5py.string_dtype("utf-8"))
        f["score"] = np.array([1.0, 0.0])
    store = read_store(path)
    assert store.predictions == store.raw == ["x", "y"]
    assert store.accuracy == 0.5
    # A partial file in the former layout is not resumed (it has no raw column to append to).
    partial = partial_path(tmp_path / "again.h5")
    path.rename(partial)
    with h5py.File(partial, "a") as f:
        f.attrs["fingerprint"] = "fp"
    assert StoreWriter(tmp_path / "again.h5", "fp", {}).done == 0


class AnswerTable:
    """A stand-in adapter and predict: variant v answers sample i with its score table's entry."""

    blocks = [None] * 4

    def __init__(self, table):
        self.table = table
        self.asked = []  # (variant, sample id) pairs generated

    def clean_answer(self, answer):
        return answer

    def predict(self, adapter, records, variants, max_new_tokens):
        self.asked += [(v, r["sample_id"]) for v in variants for r in records]
        return {
            v: ["yes" if self.table[v][r["index"]] else "no" for r in records] for v in variants
        }


def evaluate_table(table, records, tmp_path, variants, **kwargs):
    from vlmprune.engine.evaluate import evaluate_variants

    return evaluate_variants(
        table,
        records,
        variants,
        [tmp_path / f"{'-'.join(map(str, v))}.h5" for v in variants],
        metric="exact_match",
        max_new_tokens=2,
        batch_size=4,
        chunk_size=5,
        attrs={},
        identity={"model": "table"},
        predict=table.predict,
        **kwargs,
    )


def test_a_store_stopped_early_in_racing_order_is_resumed_in_it_and_completed_in_selection_order(
    tmp_path,
):
    from vlmprune.engine.orders import racing_order

    n = 12
    records = [{"sample_id": f"s{i:02d}", "index": i, "answers": ["yes"]} for i in range(n)]
    rng = np.random.default_rng(0)
    table = AnswerTable({(1,): rng.random(n) < 0.5, (2,): rng.random(n) < 0.5})
    order = racing_order(n, 0)
    evaluate_table(table, records, tmp_path, [(1,), (2,)], orders=[order], stop_at=7)
    partial = read_store(partial_path(tmp_path / "1.h5"))
    assert partial.sample_ids == [f"s{i:02d}" for i in order[:7]]
    # A job in the selection's order (rule evaluate_variant, export) resumes it in the racing order.
    table.asked.clear()
    selection = list(range(n))
    evaluate_table(table, records, tmp_path, [(1,), (2,)], orders=[selection, order])
    assert sorted(table.asked) == sorted((v, f"s{i:02d}") for v in [(1,), (2,)] for i in order[7:])
    for v, name in (((1,), "1"), ((2,), "2")):
        store = read_store(tmp_path / f"{name}.h5")
        assert store.sample_ids == [r["sample_id"] for r in records]
        assert list(store.scores) == [float(x) for x in table.table[v]]
        assert not store.raced and store.attrs["n"] == n


def test_a_raced_mark_lists_n_and_accuracy_and_goes_when_completed(tmp_path):
    from vlmprune.engine.store import mark_raced, read_raced

    path = tmp_path / "drop-1-2.h5"
    writer = StoreWriter(path, "fp", {"variant": "drop-1-2"})
    writer.append(["b", "a"], ["x", "y"], [1.0, 0.0])
    mark_raced(path)
    raced = read_raced(path)
    assert raced.raced and raced.attrs["n"] == 2 and raced.accuracy == 0.5
    assert raced.sample_ids == ["b", "a"]
    writer = StoreWriter(path, "fp", {})
    assert writer.done == 2  # a raced store resumes like any partial store
    writer.append(["c"], ["z"], [1.0])
    writer.reorder(["a", "b", "c"])
    store = writer.finish({})
    assert store.sample_ids == ["a", "b", "c"] and list(store.scores) == [0.0, 1.0, 1.0]
    assert not store.raced and "raced" not in store.attrs and read_raced(path) is None
    with pytest.raises(ValueError, match="other samples"):
        other = StoreWriter(tmp_path / "x.h5", "fp", {})
        other.append(["a"], ["x"], [1.0])
        other.reorder(["b"])
