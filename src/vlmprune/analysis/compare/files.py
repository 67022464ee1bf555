"""Reading a split's result files; writing the comparison as JSON, PNG and an HTML table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlmprune.analysis.compare.plots import plot_all, plot_dataset
from vlmprune.analysis.compare.splits import SplitImportance
from vlmprune.analysis.compare.tables import all_tables, dataset_tables, write_html
from vlmprune.analysis.importance.estimate import check_aligned
from vlmprune.engine.store import read_store
from vlmprune.result_files import read_json, write_json


def load_split(
    details: Path, full: Path, dropped: Sequence[Path], proxies: Path | None = None
) -> SplitImportance:
    """A split's importance details, its stores (``full``, then ``drop-i`` in block order) and
    proxies."""
    info = read_json(details)
    if len(dropped) != len(info["blocks"]):
        raise ValueError(
            f"{details} has {len(info['blocks'])} blocks but {len(dropped)} ablation "
            "stores were given"
        )
    baseline = read_store(full)
    columns = []
    for path in dropped:
        store = read_store(path)
        check_aligned(baseline, store, path.stem)
        columns.append(baseline.scores - store.scores)
    return SplitImportance(info, np.stack(columns, axis=1), read_json(proxies) if proxies else None)


def split_paths(
    results: Path, dataset: str, split: str
) -> tuple[Path, Path, list[Path], Path | None]:
    """Where the workflow writes a split's details, stores and proxies under ``results``."""
    details = results / "importance" / dataset / f"{split}.details.json"
    blocks = sorted(read_json(details)["blocks"], key=int)
    stores = results / "evals" / dataset / split
    proxies = results / "baseline" / dataset / f"{split}.proxies.json"
    return (
        details,
        stores / "full.h5",
        [stores / f"drop-{b}.h5" for b in blocks],
        proxies if proxies.is_file() else None,
    )


def write_dataset_comparison(
    comparison: Mapping[str, Any], json_path: Path, png: Path, html: Path
) -> None:
    write_json(json_path, comparison)
    plot_dataset(comparison, png)
    write_html(
        html,
        f"{comparison['dataset']}: train vs validation block importance",
        dataset_tables(comparison),
    )


def write_summary(summary: Mapping[str, Any], json_path: Path, png: Path, html: Path) -> None:
    write_json(json_path, summary)
    plot_all(summary, png)
    write_html(html, "Block importance across datasets", all_tables(summary))
