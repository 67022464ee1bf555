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
