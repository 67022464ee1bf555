"""The HDF5 evaluation store: one file per variant, per-sample predictions and scores.

``prediction`` is the answer the metric scored: the model's generation after its family's
answer clean-up (``ModelAdapter.clean_answer``); ``raw`` is the generation as decoded. Stores
written before ``raw`` existed read back with ``raw`` equal to ``prediction`` (no clean-up
was applied then).

A store is written to ``<path>.partial`` chunk by chunk and renamed into place when complete,
so a killed job leaves no file at ``path`` and, when rerun with the same inputs, resumes after
the last complete chunk. The ``fingerprint`` attribute identifies the inputs (model, data,
selection, variant, metric); a partial file with another fingerprint or chunk size is
discarded. Each chunk ends with a row of ``chunk_end`` (the samples written so far), written
last: a chunk without it was torn by a kill or a full disk, and a rerun drops it. A resumed
partial file is copied, up to its last complete chunk, into a fresh file, so damage to the
HDF5 structure of the old one is never carried on; one that cannot be read at all is
discarded with a warning. Per-chunk sums (``chunk_sums/``, e.g. the one-pass proxies of the
full model) are appended with their chunk and kept in the finished store.

:func:`read_store` checks what a complete store says of itself (equal column lengths, ``n``,
``accuracy``, distinct sample ids, scores finite and within the metric's range) and stops with
the file's name and "delete it and rerun" when it does not hold.

A partial store may hold its rows in another order than the selection's (a racing order, see
``vlmprune.engine.orders``); :meth:`StoreWriter.finish` puts them in the selection's order, so a
complete store always lists its samples as the selection does. A beam step that races its
candidates leaves the partial store of a set it stopped evaluating marked ``raced``, with ``n``
and ``accuracy`` of the samples it holds (:meth:`StoreWriter.mark_raced`); the next job that
needs the set on every sample resumes it like any partial store.
"""

from __future__ import annotations

import errno
import gc
import logging
import math
import os
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vlmprune.errors import DamagedFileError, StoreWriteError
from vlmprune.metrics import score_bounds

log = logging.getLogger(__name__)

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


#: The commit marker of each chunk: samples written once the chunk is complete.
CHUNK_END = "chunk_end"
#: Group of per-chunk sums, one row per chunk.
CHUNK_SUMS = "chunk_sums"


def write_error(path: Path, error: BaseException) -> StoreWriteError:
    """The message for a failed write: the file, its cause (a full disk named so), the way out.

    HDF5 reports a full disk as a failed flush, then fails again closing the file; the first
    error is the cause, found through the exception's context.
    """
    chain = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    full = any(
        getattr(e, "errno", None) == errno.ENOSPC or "No space left" in str(e) for e in chain
    )
    first = chain[-1]
    cause = (
        f"the disk holding {path.parent} is full" if full else f"{type(first).__name__}: {first}"
    )
    return StoreWriteError(
        f"cannot write the evaluation store {path}: {cause}. "
        + ("Free some space there" if full else "Fix the cause")
        + " and rerun: the job resumes after the last complete chunk"
    )


@dataclass
class Kept:
    """What a partial file holds up to its last complete chunk."""

    attrs: dict[str, Any]
    columns: dict[str, np.ndarray]
    chunk_end: np.ndarray
    sums: dict[str, np.ndarray]


class StoreWriter:
    """Appends chunks to ``<path>.partial``; ``finish`` writes the summary attributes and renames.

    ``chunk_size`` (the job's resume granularity) is recorded; a partial file written with
    another one is not resumed. ``sums`` names the per-chunk sums every chunk carries, with
    their widths.
    """

    def __init__(
        self,
        path: str | Path,
        fingerprint: str,
        attrs: Mapping[str, Any],
        *,
        chunk_size: int | None = None,
        sums: Mapping[str, int] | None = None,
    ) -> None:
        self.path = Path(path)
        self.partial = partial_path(path)
        self.fingerprint, self.attrs = fingerprint, dict(attrs)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.sums = dict(sums or {})
        self.header = {
            "fingerprint": fingerprint,
            **({"chunk_size": chunk_size} if chunk_size else {}),
        }
        kept = self._salvage(self.header) if self.partial.exists() else None
        self._create(kept.attrs if kept else {**self.header, **attrs}, kept)

    def _salvage(self, header: Mapping[str, Any]) -> Kept | None:
        """The partial file's complete chunks if it was written from the same inputs; else None."""
        try:
            kept = read_partial(self.partial)
        except Exception as error:  # HDF5 raises OSError, KeyError, ValueError, RuntimeError
            log.warning(
                "discarding the damaged partial store %s (%s: %s); its samples are evaluated again",
                self.partial,
                type(error).__name__,
                error,
            )
            return None
        if (
            kept is None
            or any(_plain(kept.attrs.get(k)) != v for k, v in header.items())
            or set(kept.sums) != set(self.sums)
        ):
            log.info(
                "%s was written from other inputs, in other chunks or in an older layout: "
                "starting over",
                self.partial,
            )
            return None
        return kept

    def _create(self, attrs: Mapping[str, Any], kept: Kept | None) -> None:
        """A fresh partial file with ``attrs`` and the kept rows, replacing any old one."""

        def fill(f: h5py.File) -> None:
            for key, value in attrs.items():
                f.attrs[key] = value
            for name, dtype in COLUMNS:
                _growing(f, name, dtype, kept.columns[name] if kept else None)
            _growing(f, CHUNK_END, "i8", kept.chunk_end if kept else None)
            for name, width in self.sums.items():
                rows = kept.sums[name] if kept else np.zeros((0, width))
                _growing(f, f"{CHUNK_SUMS}/{name}", "f8", rows)

        fresh = self.partial.with_name(self.partial.name + ".tmp")
        self._write(fill, fresh, "w")
        os.replace(fresh, self.partial)

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
        sums: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        """Append one chunk; ``raw`` (the generations before clean-up) defaults to ``predictions``.

        ``sums`` are this chunk's row of each per-chunk sum. The chunk's ``chunk_end`` row is
        written last: without it, the chunk is incomplete and a rerun drops it.
        """
        raw = predictions if raw is None else raw
        if set(sums or {}) != set(self.sums):
            raise ValueError(f"each chunk of {self.path} carries the sums {sorted(self.sums)}")

        def add_rows(f: h5py.File) -> None:
            start = f["score"].shape[0]
            for name, values in (
                ("sample_id", sample_ids),
                ("prediction", predictions),
                ("raw", raw),
                ("score", scores),
            ):
                f[name].resize((start + len(values),))
                f[name][start:] = np.asarray(values, dtype=object if name != "score" else "f8")
            for name, row in (sums or {}).items():
                _extend(f[f"{CHUNK_SUMS}/{name}"], np.asarray([row], dtype="f8"))
            _extend(f[CHUNK_END], np.asarray([start + len(scores)], dtype="i8"))
            if "raced" in f.attrs:  # extended: no longer where a race left it
                del f.attrs["raced"]

        self._write(add_rows)

    def _write(
        self, action: Callable[[h5py.File], None], path: Path | None = None, mode: str = "a"
    ) -> None:
        """``action`` on the open partial file (or ``path``); a failed write: ``StoreWriteError``.

        HDF5's objects of the failed file are released before it is raised: kept alive by the
        traceback until the interpreter exits, they crash it.
        """
        f = failure = None
        try:
            with h5py.File(path or self.partial, mode) as f:
                action(f)
                f.flush()
        except (OSError, RuntimeError) as error:  # HDF5 reports a failed write as either
            traceback.clear_frames(error.__traceback__)
            failure = write_error(self.partial, error)
        if failure is not None:
            f = None
            gc.collect()
            raise failure

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
        self._create({**self.header, **self.attrs}, None)

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
        """Write the summary attributes and rename into place; ``scores`` replace the chunks'."""

        def summarise(f: h5py.File) -> None:
            if scores is not None:
                f["score"][:] = np.asarray(scores, dtype="f8")
            written = f["score"][:]
            f.attrs["n"] = len(written)
            f.attrs["accuracy"] = float(written.mean()) if len(written) else float("nan")
            if "raced" in f.attrs:
                del f.attrs["raced"]
            for key, value in attrs.items():
                f.attrs[key] = value

        self._write(summarise)
        os.replace(self.partial, self.path)
        return read_store(self.path)


def _growing(f: h5py.File, name: str, dtype: Any, rows: np.ndarray | None) -> None:
    """A dataset that grows along its first axis, holding ``rows`` (None: empty, 1-D)."""
    rows = np.zeros((0,), dtype=object if dtype is STR else dtype) if rows is None else rows
    f.create_dataset(
        name,
        data=rows.astype(object) if dtype is STR else rows,
        maxshape=(None, *rows.shape[1:]),
        dtype=dtype,
        chunks=(1024 if rows.ndim == 1 else 64, *rows.shape[1:]),
        track_times=False,
    )


def _extend(dataset: h5py.Dataset, rows: np.ndarray) -> None:
    start = dataset.shape[0]
    dataset.resize((start + len(rows), *dataset.shape[1:]))
    dataset[start:] = rows


def read_partial(path: Path) -> Kept | None:
    """The complete chunks of a partial file; None for a file of an older layout (no chunk_end)."""
    with h5py.File(path, "r") as f:
        if CHUNK_END not in f or any(name not in f for name, _ in COLUMNS):
            return None
        attrs = dict(f.attrs.items())
        columns = {name: f[name][:] for name, _ in COLUMNS}
        ends = f[CHUNK_END][:]
        sums = {name: f[f"{CHUNK_SUMS}/{name}"][:] for name in f.get(CHUNK_SUMS, {})}
    rows = min(len(c) for c in columns.values())
    chunks = int(np.searchsorted(ends, rows, side="right"))  # chunks whose rows are all there
    if any(len(v) < chunks for v in sums.values()):
        chunks = min(len(v) for v in sums.values())
    ends = ends[:chunks]
    done = int(ends[-1]) if chunks else 0
    if max(len(c) for c in columns.values()) > done or any(len(v) > chunks for v in sums.values()):
        log.warning("%s: the incomplete chunk after sample %d is evaluated again", path, done)
    return Kept(
        attrs,
        {name: column[:done] for name, column in columns.items()},
        ends,
        {name: rows_[:chunks] for name, rows_ in sums.items()},
    )


def _plain(value: Any) -> Any:
    """An HDF5 attribute as a plain Python value (numpy scalars and arrays converted)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return value


def _strings(column: h5py.Dataset) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else s for s in column[:]]


def damaged(path: Path, problem: str) -> DamagedFileError:
    return DamagedFileError(
        f"evaluation store {path} {problem}; delete it and rerun (its job then runs again)"
    )


def read_store(path: str | Path) -> EvalStore:
    """A complete store, checked against what it says of itself (see the module's docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"evaluation store {str(path)!r} does not exist")
    try:
        with h5py.File(path, "r") as f:
            predictions = _strings(f["prediction"])
            store = EvalStore(
                sample_ids=_strings(f["sample_id"]),
                predictions=predictions,
                scores=f["score"][:].astype(np.float64),
                attrs={k: _plain(v) for k, v in f.attrs.items()},
                raw=_strings(f["raw"]) if "raw" in f else list(predictions),
            )
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        raise damaged(path, f"cannot be read ({type(error).__name__}: {error})") from None
    problem = store_problem(store)
    if problem:
        raise damaged(path, f"is inconsistent: {problem}")
    return store


def store_problem(store: EvalStore) -> str | None:
    """What is wrong with a store read back, or None."""
    lengths = {len(store.sample_ids), len(store.predictions), len(store.raw), len(store.scores)}
    if len(lengths) != 1:
        return f"its columns have different lengths {sorted(lengths)}"
    n = len(store.scores)
    if "n" in store.attrs and store.attrs["n"] != n:
        return f"its attribute n is {store.attrs['n']} but it holds {n} samples"
    if len(set(store.sample_ids)) != n:
        return "a sample id occurs twice"
    if not np.isfinite(store.scores).all():
        return f"{int((~np.isfinite(store.scores)).sum())} scores are not finite"
    metric = store.attrs.get("metric")
    low, high = score_bounds(metric)
    outside = np.flatnonzero((store.scores < low - 1e-9) | (store.scores > high + 1e-9))
    if len(outside):
        first = int(outside[0])
        return (
            f"{len(outside)} scores lie outside [{low:g}, {high:g}], the range of {metric} scores "
            f"(sample {store.sample_ids[first]!r}: {store.scores[first]:g})"
        )
    if "accuracy" in store.attrs and n:
        stated = float(store.attrs["accuracy"])
        if not math.isclose(stated, store.accuracy, rel_tol=1e-9, abs_tol=1e-12):
            return f"its attribute accuracy is {stated:g} but its scores average {store.accuracy:g}"
    return None


def chunk_sums(path: str | Path) -> dict[str, np.ndarray]:
    """The per-chunk sums of a complete store, one row per chunk (empty if it has none)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            return {name: f[f"{CHUNK_SUMS}/{name}"][:] for name in f.get(CHUNK_SUMS, {})}
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        raise damaged(path, f"cannot be read ({type(error).__name__}: {error})") from None


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
