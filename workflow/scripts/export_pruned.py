"""Rule export_pruned: results/pruned/{method}-{s}/, save_pretrained with the pruned weights zeroed."""

import argparse
import json
from pathlib import Path

from vlmprune.export.width_variant import export_pruned
from vlmprune.result_files import read_json
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="the config's model section, as JSON")
    parser.add_argument("--masks", required=True, type=Path)
    parser.add_argument("--summary", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    print(export_pruned(json.loads(args.model), args.masks, args.out, read_json(args.summary)))


run_main(main)
