"""Rule importance: per-block importance from the baseline and single-block ablation stores."""

import argparse
import json
from pathlib import Path

from vlmprune.analysis.importance.files import write_importance
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", required=True, help="the baseline store (full.h5)")
    parser.add_argument(
        "--dropped", nargs="+", required=True, help="the stores drop-0.h5 … drop-(N-1).h5"
    )
    parser.add_argument("--out", required=True, help="flat importance JSON")
    parser.add_argument("--details", required=True, help="details JSON")
    parser.add_argument("--params", required=True, help="the config's importance section, as JSON")
    args = parser.parse_args()
    write_importance(
        Path(args.full),
        [Path(p) for p in args.dropped],
        Path(args.out),
        Path(args.details),
        **json.loads(args.params),
    )


run_main(main)
