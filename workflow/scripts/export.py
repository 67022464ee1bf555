"""Rule export: results/pruned/{variant}/, the model without the variant's blocks.

The processor and a model card go beside it.
"""

from pathlib import Path

from vlmprune.analysis.beam.files import interval_settings
from vlmprune.analysis.importance.estimate import accuracy_row
from vlmprune.engine.store import read_store
from vlmprune.engine.variants import removed_blocks
from vlmprune.export.card import joint_choice, model_card
from vlmprune.export.depth_variant import export_variant, load_for_export
from vlmprune.result_files import read_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    model, variant = job.params.model, job.wildcards.variant
    settings = interval_settings(job.params.importance)
    adapter = load_for_export(model)
    removed = removed_blocks(variant, len(adapter.blocks), adapter.component)
    card = model_card(
        source=model["path"],
        variant=variant,
        removed=removed,
        component=adapter.component,
        num_blocks=len(adapter.blocks),
        accuracy=[
            accuracy_row(read_store(f), read_store(s), **settings)
            for f, s in zip(job.input.full, job.input.stores, strict=True)
        ],
        latency={(d := read_json(p))["dataset"]: d for p in job.input.latency},
        loading=adapter.loading_instructions,
        chosen=joint_choice(read_json(job.input.joint), variant)
        if "joint" in job.input.keys()
        else None,
    )
    export_variant(adapter, variant, Path(job.output[0]), card)


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
