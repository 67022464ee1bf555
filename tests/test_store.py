import time

import numpy as np
import pytest

from vlmprune.engine.store import StoreWriter, partial_path


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
