"""The HDF5 evaluation store: one file per variant, per-sample predictions and scores.

``prediction`` is the answer the metric scored: the model's generation after its family's
answer clean-up (``ModelAdapter.clean_answer``); ``raw`` is the generation as decoded. Stores
written before ``raw`` existed read back with ``raw`` equal to ``prediction`` (no clean-up
was applied then).

A store is written to ``<path>.partial`` chunk by chunk and renamed into place when complete,
so a killed job leaves no file at ``path`` and, when rerun with the same inputs, resumes after
the last complete chunk. The ``fingerprint`` attribute identifies the inputs (model, data,
selection, variant, metric); a partial file with another fingerprint is discarded.
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
    """A complete store, read back."""

    sample_ids: list[str]
    predictions: list[str]
    scores: np.ndarray
    attrs: dict[str, Any]
    #: The generations before clean-up (``read_store`` always fills it).
    raw: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return float(self.scores.mean()) if len(self.scores) else float("nan")


def partial_path(path: str | Path) -> Path:
    return Path(f"{path}.partial")


class StoreWriter:
    """Appends chunks to ``<path>.partial``; ``finish`` writes the summary attributes and renames."""

    def __init__(self, path: str | Path, fingerprint: str, attrs: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.partial = partial_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.partial.exists() and not self._resumable(fingerprint):
            self.partial.unlink()
        if not self.partial.exists():
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

    def finish(self, attrs: Mapping[str, Any], scores: Sequence[float] | None = None) -> EvalStore:
        """Write the summary attributes and rename into place; ``scores`` replace the per-chunk ones."""
        with h5py.File(self.partial, "a") as f:
            if scores is not None:
                f["score"][:] = np.asarray(scores, dtype="f8")
            scores = f["score"][:]
            f.attrs["n"] = len(scores)
            f.attrs["accuracy"] = float(scores.mean()) if len(scores) else float("nan")
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
