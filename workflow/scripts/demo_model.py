"""Rule demo_model: train the tiny LLaVA of the embedded default and save it with save_pretrained."""

import argparse
import json

from vlmprune.demo.train import train_demo_model
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--params", required=True, help="the config's demo_model section, as JSON")
    args = parser.parse_args()
    facts = train_demo_model(args.out, **json.loads(args.params))
    print(json.dumps(facts, indent=2))


run_main(main)
