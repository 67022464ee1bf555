"""Rule export: results/pruned/{variant}/, the model without the variant's blocks, with processor and model card."""

import argparse
import json
from pathlib import Path

from vlmprune.analysis.beam.files import interval_settings
from vlmprune.analysis.importance.estimate import accuracy_row
from vlmprune.engine.store import read_store
from vlmprune.engine.variants import removed_blocks
from vlmprune.export.card import joint_choice, model_card
from vlmprune.export.depth_variant import export_variant, load_for_export
from vlmprune.result_files import read_json
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="variant id: drop-3, drop-1-6, …")
    parser.add_argument("--model", required=True, help="the config's model section, as JSON")
    parser.add_argument(
        "--full", nargs="*", default=[], help="the full model's store per dataset (analysis split)"
    )
    parser.add_argument(
        "--stores", nargs="*", default=[], help="the variant's store per dataset, in the same order"
    )
    parser.add_argument(
        "--latency", nargs="*", default=[], help="results/latency/{dataset}.json files"
    )
    parser.add_argument(
        "--importance",
        required=True,
        help="the config's importance section (interval settings), as JSON",
    )
    parser.add_argument(
        "--joint", default=None, help="results/beam/all.json, when beam.objective is mean or worst"
    )
    parser.add_argument("--out", required=True, help="results/pruned/{variant}")
    args = parser.parse_args()
    model = json.loads(args.model)
    settings = interval_settings(json.loads(args.importance))
    adapter = load_for_export(model)
    removed = removed_blocks(args.variant, len(adapter.blocks), adapter.component)
    card = model_card(
        source=model["path"],
        variant=args.variant,
        removed=removed,
        component=adapter.component,
        num_blocks=len(adapter.blocks),
        accuracy=[
            accuracy_row(read_store(f), read_store(s), **settings)
            for f, s in zip(args.full, args.stores)
        ],
        latency={(d := read_json(p))["dataset"]: d for p in args.latency},
        loading=adapter.loading_instructions,
        chosen=joint_choice(read_json(args.joint), args.variant) if args.joint else None,
    )
    export_variant(adapter, args.variant, Path(args.out), card)


run_main(main)
