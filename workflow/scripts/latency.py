"""Rule latency: prefill, decode per token, throughput and peak memory of the trade-off list's variants.

Each variant is timed on the model with its blocks physically deleted (what rule export saves),
on the configured device, on prompts from the dataset's analysis split.
"""

import json
from pathlib import Path

from vlmprune.analysis.tradeoff.pareto import tradeoff_variants
from vlmprune.data.prepare import load_prepared, select_samples
from vlmprune.engine.distributed import World
from vlmprune.engine.run import load_model
from vlmprune.errors import VlmpruneError
from vlmprune.export.latency import latency_report
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import evaluation_parser, run_main


def main() -> None:
    parser = evaluation_parser(
        __doc__, data_help="prepared records of the analysis split", split=False
    )
    parser.add_argument(
        "--beam", required=True, help="results/beam/{dataset}.json: the sets to time"
    )
    parser.add_argument("--latency", required=True, help="the config's latency section, as JSON")
    parser.add_argument(
        "--label",
        default=None,
        help="the file's dataset field (all: the joint search's sets, on --dataset's prompts)",
    )
    parser.add_argument("--out", required=True, help="results/latency/{dataset}.json")
    args = parser.parse_args()
    model, evaluation, latency = args.model, args.evaluation, json.loads(args.latency)
    batch = latency["batch_size"] or evaluation["batch_size"]
    if batch == "auto":
        raise VlmpruneError(
            "evaluation.batch_size is auto: set latency.batch_size to the batch size to time besides 1"
        )
    records, _ = select_samples(
        load_prepared(Path(args.data), args.dataset),
        batch,
        evaluation["seed"],
        evaluation["selection"],
    )
    adapter = load_model(model, World())
    settings = {
        "batch_sizes": [1, batch],
        **{k: latency[k] for k in ("new_tokens", "warmup", "repeats")},
    }
    report = latency_report(
        adapter,
        [records[i] for i in range(len(records))],
        tradeoff_variants(read_json(args.beam)),
        settings,
    )
    write_json(
        args.out,
        {
            "model": model["path"],
            "dataset": args.label or args.dataset,
            "prompts": args.dataset,
            "split": read_json(args.beam)["split"],
            **report,
        },
    )


run_main(main)
