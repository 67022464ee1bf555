"""The HDF5 evaluation store: one file per variant, per-sample predictions and scores.

``prediction`` is the answer the metric scored: the model's generation after its family's
answer clean-up (``ModelAdapter.clean_answer``); ``raw`` is the generation as decoded. Stores
written before ``raw`` existed read back with ``raw`` equal to ``prediction`` (no clean-up
was applied then).

A store is written to ``<path>.partial`` chunk by chunk and renamed into place when complete,
so a killed job leaves no file at ``path`` and, when rerun with the same inputs, resumes after
the last complete chunk. The ``fingerprint`` attribute identifies the inputs (model, data,
selection, variant, metric); a partial file with another fingerprint is discarded.

A partial store may hold its rows in another order than the selection's (a racing order, see
``vlmprune.engine.orders``); :meth:`StoreWriter.finish` puts them in the selection's order, so a
complete store always lists its samples as the selection does. A beam step that races its
candidates leaves the partial store of a set it stopped evaluating marked ``raced``, with ``n``
and ``accuracy`` of the samples it holds (:meth:`StoreWriter.mark_raced`); the next job that
needs the set on every sample resumes it like any partial store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

STR = h5py.string_dtype("utf-8")
COLUMNS = (("sample_id", STR), ("prediction", STR), ("raw", STR), ("score", "f8"))


@dataclass(frozen=True)
class EvalStore:
    """A store read back: complete, or a raced partial store (``raced``) holding fewer samples."""

    sample_ids: list[str]
    predictions: list[str]
    scores: np.ndarray
    attrs: dict[str, Any]
    #: The generations before clean-up (``read_store`` always fills it).
    raw: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return float(self.scores.mean()) if len(self.scores) else float("nan")

    @property
    def raced(self) -> bool:
        return bool(self.attrs.get("raced", False))


def partial_path(path: str | Path) -> Path:
    return Path(f"{path}.partial")


class StoreWriter:
    """Appends chunks to ``<path>.partial``; ``finish`` writes the summary attributes and renames."""

    def __init__(self, path: str | Path, fingerprint: str, attrs: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.partial = partial_path(path)
        self.fingerprint, self.attrs = fingerprint, dict(attrs)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.partial.exists() and not self._resumable(fingerprint):
            self.partial.unlink()
        if not self.partial.exists():
            self._create(fingerprint, attrs)

    def _create(self, fingerprint: str, attrs: Mapping[str, Any]) -> None:
        with h5py.File(self.partial, "w") as f:
            f.attrs["fingerprint"] = fingerprint
            for key, value in attrs.items():
                f.attrs[key] = value
            for name, dtype in COLUMNS:
                f.create_dataset(
                    name,
                    shape=(0,),
                    maxshape=(None,),
                    dtype=dtype,
                    chunks=(1024,),
                    track_times=False,
                )

    def _resumable(self, fingerprint: str) -> bool:
        try:
            with h5py.File(self.partial, "r") as f:
                return f.attrs.get("fingerprint") == fingerprint and all(
                    name in f for name, _ in COLUMNS
                )
        except OSError:  # torn write of the last chunk: start over
            return False

    @property
    def done(self) -> int:
        with h5py.File(self.partial, "r") as f:
            return int(f["score"].shape[0])

    def append(
        self,
        sample_ids: Sequence[str],
        predictions: Sequence[str],
        scores: Sequence[float],
        raw: Sequence[str] | None = None,
    ) -> None:
        """Append one chunk; ``raw`` (the generations before clean-up) defaults to ``predictions``."""
        raw = predictions if raw is None else raw
        with h5py.File(self.partial, "a") as f:
            start = f["score"].shape[0]
            for name, values in (
                ("sample_id", sample_ids),
                ("prediction", predictions),
                ("raw", raw),
                ("score", scores),
            ):
                f[name].resize((start + len(values),))
                f[name][start:] = np.asarray(values, dtype=object if name != "score" else "f8")
            f.flush()

    def predictions(self) -> list[str]:
        with h5py.File(self.partial, "r") as f:
            return _strings(f["prediction"])

    def sample_ids(self) -> list[str]:
        with h5py.File(self.partial, "r") as f:
            return _strings(f["sample_id"])

    def scores(self) -> np.ndarray:
        with h5py.File(self.partial, "r") as f:
            return f["score"][:].astype(np.float64)

    def restart(self) -> None:
        """Discard the rows written so far (a partial store in another order than this job's)."""
        self.partial.unlink()
        self._create(self.fingerprint, self.attrs)

    def mark_raced(self) -> None:
        mark_raced(self.path)

    def reorder(self, sample_ids: Sequence[str]) -> None:
        """Rewrite the rows in the order of ``sample_ids`` (the same samples, as a complete store
        lists them)."""
        with h5py.File(self.partial, "a") as f:
            stored = _strings(f["sample_id"])
            if stored == list(sample_ids):
                return
            position = {sample_id: i for i, sample_id in enumerate(stored)}
            if len(stored) != len(sample_ids) or set(position) != set(sample_ids):
                raise ValueError(
                    f"{self.partial} holds other samples than the selection; delete it and rerun"
                )
            permutation = np.array([position[s] for s in sample_ids], dtype=np.int64)
            for name, _ in COLUMNS:
                values = f[name][:]
                f[name][:] = values[permutation]

    def finish(self, attrs: Mapping[str, Any], scores: Sequence[float] | None = None) -> EvalStore:
        """Write the summary attributes and rename into place; ``scores`` replace the per-chunk ones."""
        with h5py.File(self.partial, "a") as f:
            if scores is not None:
                f["score"][:] = np.asarray(scores, dtype="f8")
            scores = f["score"][:]
            f.attrs["n"] = len(scores)
            f.attrs["accuracy"] = float(scores.mean()) if len(scores) else float("nan")
            if "raced" in f.attrs:
                del f.attrs["raced"]
            for key, value in attrs.items():
                f.attrs[key] = value
        os.replace(self.partial, self.path)
        return read_store(self.path)


def _plain(value: Any) -> Any:
    """An HDF5 attribute as a plain Python value (numpy scalars and arrays converted)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return value


def _strings(column: h5py.Dataset) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else s for s in column[:]]


def read_store(path: str | Path) -> EvalStore:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"evaluation store {str(path)!r} does not exist")
    with h5py.File(path, "r") as f:
        predictions = _strings(f["prediction"])
        return EvalStore(
            sample_ids=_strings(f["sample_id"]),
            predictions=predictions,
            scores=f["score"][:].astype(np.float64),
            attrs={k: _plain(v) for k, v in f.attrs.items()},
            raw=_strings(f["raw"]) if "raw" in f else list(predictions),
        )


def mark_raced(path: str | Path) -> None:
    """Leave the partial store of ``path`` as a raced one: ``raced``, and the ``n`` and
    ``accuracy`` of the rows it holds."""
    with h5py.File(partial_path(path), "a") as f:
        scores = f["score"][:]
        f.attrs["raced"] = True
        f.attrs["n"] = len(scores)
        f.attrs["accuracy"] = float(scores.mean()) if len(scores) else float("nan")


def read_raced(path: str | Path) -> EvalStore | None:
    """The raced partial store of ``path`` (rows in evaluation order); None if there is none."""
    partial = partial_path(path)
    if not partial.is_file():
        return None
    try:
        with h5py.File(partial, "r") as f:
            if not f.attrs.get("raced", False):
                return None
    except OSError:
        return None
    return read_store(partial)
