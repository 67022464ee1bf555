"""Rule latency: prefill, decode per token, throughput and peak memory of the trade-off list.

Each variant is timed on the model with its blocks physically deleted (what rule export saves),
on the configured device, on prompts from the dataset's analysis split.
"""

from pathlib import Path

from vlmprune.analysis.tradeoff.pareto import tradeoff_variants
from vlmprune.data.prepare import load_prepared, select_samples
from vlmprune.engine.distributed import World
from vlmprune.engine.run import load_model
from vlmprune.errors import VlmpruneError
from vlmprune.export.latency import latency_report
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    model, evaluation, latency = job.params.model, job.params.evaluation, job.params.latency
    # rule latency_all times the joint search's sets on the first dataset's prompts
    prompts = job.params.get("prompts") or job.wildcards.dataset
    batch = latency["batch_size"] or evaluation["batch_size"]
    if batch == "auto":
        raise VlmpruneError(
            "evaluation.batch_size is auto: "
            "set latency.batch_size to the batch size to time besides 1"
        )
    records, _ = select_samples(
        load_prepared(Path(job.input.data), prompts),
        batch,
        evaluation["seed"],
        evaluation["selection"],
    )
    adapter = load_model(model, World())
    settings = {
        "batch_sizes": [1, batch],
        **{k: latency[k] for k in ("new_tokens", "warmup", "repeats")},
    }
    beam = read_json(job.input.beam)
    report = latency_report(
        adapter, [records[i] for i in range(len(records))], tradeoff_variants(beam), settings
    )
    write_json(
        job.output[0],
        {
            "model": model["path"],
            "dataset": job.wildcards.get("dataset", "all"),
            "prompts": prompts,
            "split": beam["split"],
            **report,
        },
    )


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
