import os
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


# ---------------------------------------------------------------- checked on read


def finished_store(path, scores=(1.0, 0.0, 1.0, 0.0), metric="exact_match"):
    writer = StoreWriter(path, "fp", {"metric": metric})
    ids = [f"s{i}" for i in range(len(scores))]
    writer.append(ids, ["x"] * len(scores), list(scores))
    return writer.finish({})


def edit_store(path, **changes):
    import h5py

    with h5py.File(path, "a") as f:
        for key, value in changes.items():
            if key in f:
                f[key][...] = value
            else:
                f.attrs[key] = value


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"score": [1.9, 0.0, 1.0, 0.0]}, r"1 scores lie outside \[0, 1\].*sample 's0': 1.9"),
        ({"score": [1.0, 1.0, 1.0, 0.0]}, "attribute accuracy is 0.5 but its scores average 0.75"),
        ({"n": 5}, "attribute n is 5 but it holds 4 samples"),
        ({"score": [np.nan, 0.0, 1.0, 0.0]}, "1 scores are not finite"),
        ({"sample_id": ["s0", "s0", "s2", "s3"]}, "a sample id occurs twice"),
    ],
)
def test_an_inconsistent_store_stops_its_reader_naming_it(tmp_path, changes, problem):
    from vlmprune.errors import DamagedFileError

    path = tmp_path / "drop-5.h5"
    finished_store(path)
    edit_store(path, **changes)
    with pytest.raises(DamagedFileError, match=problem) as error:
        read_store(path)
    assert str(path) in str(error.value) and "delete it and rerun" in str(error.value)


def test_a_truncated_store_names_the_file(tmp_path):
    from vlmprune.errors import DamagedFileError

    path = tmp_path / "drop-5.h5"
    finished_store(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DamagedFileError, match="cannot be read.*delete it and rerun") as error:
        read_store(path)
    assert str(path) in str(error.value)


def test_scores_of_a_metric_beyond_one_are_checked_against_its_own_range(tmp_path):
    assert read_store(finished_store(tmp_path / "c.h5", (2.5, 0.0), "cider") and tmp_path / "c.h5")
    edit_store(tmp_path / "c.h5", score=[12.0, 0.0], accuracy=6.0)
    with pytest.raises(ValueError, match=r"outside \[0, 10\]"):
        read_store(tmp_path / "c.h5")


# ---------------------------------------------------------------- damaged partial files


def test_a_torn_chunk_is_dropped_and_the_complete_ones_resumed(tmp_path, caplog):
    import h5py

    path = tmp_path / "drop-1.h5"
    writer = StoreWriter(path, "fp", {}, chunk_size=2)
    writer.append(["a", "b"], ["x", "y"], [1.0, 0.0])
    with h5py.File(partial_path(path), "a") as f:  # a chunk killed before its commit row
        for name in ("sample_id", "prediction", "raw"):
            f[name].resize((4,))
            f[name][2:] = ["c", "d"]
    resumed = StoreWriter(path, "fp", {}, chunk_size=2)
    assert resumed.done == 2 and "incomplete chunk after sample 2" in caplog.text
    resumed.append(["c", "d"], ["z", "w"], [1.0, 1.0])
    assert resumed.finish({}).sample_ids == ["a", "b", "c", "d"]


def test_a_damaged_partial_file_is_discarded_with_a_warning_never_failing(tmp_path, caplog):
    path = tmp_path / "drop-1.h5"
    writer = StoreWriter(path, "fp", {}, chunk_size=2)
    writer.append(["a", "b"], ["x", "y"], [1.0, 0.0])
    data = bytearray(partial_path(path).read_bytes())
    data[len(data) // 3 :] = b"\xff" * (len(data) - len(data) // 3)
    partial_path(path).write_bytes(bytes(data))
    for _ in range(2):  # and again: a rerun never fails on what the first one left
        again = StoreWriter(path, "fp", {}, chunk_size=2)
        assert again.done == 0
    assert "discarding the damaged partial store" in caplog.text
    again.append(["a", "b"], ["x", "y"], [1.0, 0.0])
    assert again.finish({}).sample_ids == ["a", "b"]


def test_a_partial_file_of_other_chunks_starts_over(tmp_path):
    path = tmp_path / "drop-1.h5"
    StoreWriter(path, "fp", {}, chunk_size=2).append(["a", "b"], ["x", "y"], [1.0, 0.0])
    assert StoreWriter(path, "fp", {}, chunk_size=2).done == 2
    assert StoreWriter(path, "fp", {}, chunk_size=4).done == 0


def test_per_chunk_sums_are_kept_with_their_chunks(tmp_path):
    from vlmprune.engine.store import chunk_sums

    path = tmp_path / "full.h5"
    widths = {"tokens": 3, "sequences": 1}
    writer = StoreWriter(path, "fp", {}, chunk_size=1, sums=widths)
    writer.append(["a"], ["x"], [1.0], sums={"tokens": [1, 2, 3], "sequences": [1]})
    resumed = StoreWriter(path, "fp", {}, chunk_size=1, sums=widths)
    assert resumed.done == 1
    with pytest.raises(ValueError, match="carries the sums"):
        resumed.append(["b"], ["y"], [0.0])
    resumed.append(["b"], ["y"], [0.0], sums={"tokens": [4, 5, 6], "sequences": [1]})
    resumed.finish({})
    sums = chunk_sums(path)
    np.testing.assert_array_equal(sums["tokens"], [[1, 2, 3], [4, 5, 6]])
    # a partial file without the sums this job needs is not resumed: they would miss its chunks
    StoreWriter(tmp_path / "x.h5", "fp", {}, chunk_size=1).append(["a"], ["x"], [1.0])
    assert StoreWriter(tmp_path / "x.h5", "fp", {}, chunk_size=1, sums=widths).done == 0


def small_disk(tmp_path, size):
    """A tmpfs of ``size`` mounted at ``tmp_path/disk`` (root only), unmounted by the caller."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated by mounting a small tmpfs, which needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    return disk


FILL_DISK = """
import sys
from vlmprune.engine.store import StoreWriter
from vlmprune.workflow_script import run_main


def main():
    writer = StoreWriter(sys.argv[1], "fp", {}, chunk_size=4)
    for start in range(0, 40, 4):
        writer.append([f"s{i}" for i in range(start, start + 4)], [sys.argv[2]] * 4, [1.0] * 4)


run_main(main)
"""


def test_a_full_disk_is_named_and_the_rerun_resumes_once_space_is_freed(tmp_path):
    """The job that meets the full disk is its own process, as in the workflow: it says so as
    its last line and exits with 2 (HDF5 keeps the file it failed to close open inside the
    process, so the rerun is a fresh process)."""
    import subprocess
    import sys

    disk = small_disk(tmp_path, "64k")
    try:
        path = disk / "drop-1.h5"
        answer = "an answer long enough to fill a small disk quickly " * 8
        job = subprocess.run(
            [sys.executable, "-c", FILL_DISK, str(path), answer], capture_output=True, text=True
        )
        assert job.returncode == 2, job.stderr[-2000:]
        last = job.stderr.strip().splitlines()[-1]
        assert last.startswith("error: cannot write the evaluation store") and last.endswith(
            f"disk holding {disk} is full. Free some space there and rerun: "
            "the job resumes after the last complete chunk"
        )
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
        resumed = StoreWriter(path, "fp", {}, chunk_size=4)
        assert resumed.done % 4 == 0 and resumed.done < 40  # the complete chunks, or none
        ids = [f"s{i}" for i in range(40)]
        for start in range(resumed.done, 40, 4):
            resumed.append(ids[start : start + 4], [answer] * 4, [1.0] * 4)
        store = resumed.finish({})
        assert store.sample_ids == ids and store.predictions == [answer] * 40
    finally:
        subprocess.run(["umount", "-l", str(disk)])


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
    order = racing_order(n, 0, 1)
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


def test_each_beam_step_races_in_an_order_of_its_own():
    from vlmprune.engine.distributed import World
    from vlmprune.engine.orders import racing_order
    from vlmprune.engine.run import EvaluationJob

    n = 50
    orders = [racing_order(n, 0, removed) for removed in (1, 2, 3)]
    assert all(sorted(order) == list(range(n)) for order in orders)
    assert len({tuple(order) for order in orders}) == 3  # drawn apart, step by step
    assert racing_order(n, 0, 2) == orders[1] != racing_order(n, 1, 2)  # and seeded
    job = EvaluationJob("d", "train", list(range(n)), [], None, {}, {}, {"seed": 0}, World())
    assert job.orders("racing", ["drop-1-2", "drop-3-4"]) == [orders[1]]
    # Completing sets of several steps resumes a raced store in its own step's order.
    assert job.orders("selection", ["full", "drop-1", "drop-1-2", "drop-1-2-3"]) == [
        list(range(n)),
        *orders,
    ]
    with pytest.raises(ValueError, match=r"one beam step.*remove \[2, 3\]"):
        job.orders("racing", ["drop-1-2", "drop-1-2-3"])


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
