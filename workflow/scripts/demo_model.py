"""Rule demo_model: train the embedded default's tiny LLaVA and save it with save_pretrained."""

import json

from vlmprune.demo.train import train_demo_model
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    facts = train_demo_model(job.output[0], **job.params.demo)
    print(json.dumps(facts, indent=2))


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
