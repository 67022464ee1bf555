"""Rule export: results/pruned/{variant}/, the model without the variant's blocks, with processor and model card."""

import argparse
import json
from pathlib import Path

from vlmprune.analysis.beam_files import interval_settings
from vlmprune.analysis.importance import mean_interval
from vlmprune.cli import run_main
from vlmprune.engine.store import read_store
from vlmprune.export.card import model_card
from vlmprune.engine.variants import removed_blocks
from vlmprune.export.checkpoint import export_variant, load_for_export
from vlmprune.io import read_json


def accuracy_rows(full_stores: list[str], stores: list[str], importance: dict) -> list[dict]:
    settings = interval_settings(importance)
    rows = []
    for full_path, path in zip(full_stores, stores):
        full, store = read_store(full_path), read_store(path)
        low, high = mean_interval(store.scores, **settings)
        rows.append({**{k: store.attrs.get(k) for k in ("dataset", "split", "metric")}, "n": len(store.scores),
                     "accuracy": store.accuracy, "ci_low": low, "ci_high": high, "confidence": settings["confidence"],
                     "baseline_accuracy": full.accuracy})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="variant id: drop-3, drop-1-6, …")
    parser.add_argument("--model", required=True, help="the config's model section, as JSON")
    parser.add_argument("--full", nargs="*", default=[], help="the full model's store per dataset (analysis split)")
    parser.add_argument("--stores", nargs="*", default=[], help="the variant's store per dataset, in the same order")
    parser.add_argument("--latency", nargs="*", default=[], help="results/latency/{dataset}.json files")
    parser.add_argument("--importance", required=True, help="the config's importance section (interval settings), as JSON")
    parser.add_argument("--out", required=True, help="results/pruned/{variant}")
    args = parser.parse_args()
    model = json.loads(args.model)
    adapter = load_for_export(model)
    removed = removed_blocks(args.variant, len(adapter.blocks), adapter.component)
    card = model_card(
        source=model["path"], variant=args.variant, removed=removed, component=adapter.component, num_blocks=len(adapter.blocks),
        accuracy=accuracy_rows(args.full, args.stores, json.loads(args.importance)),
        latency={(d := read_json(p))["dataset"]: d for p in args.latency},
    )
    export_variant(adapter, args.variant, Path(args.out), card)


run_main(main)
