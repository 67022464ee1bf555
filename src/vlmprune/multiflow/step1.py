"""Command line with the original step-1 script's flags.

    python -m vlmprune.multiflow --model_path DIR --target_sparsity 0.5 [--device cpu]

writes ``sparsity_distribution_{s}.json`` (and ``.png``) into ``--output_dir`` (default: the
current directory) and prints the report.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

from vlmprune.multiflow import CheckpointError, MultiflowConfig, run_step1
from vlmprune.multiflow.modality import architecture_names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vlmprune.multiflow", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model_path", required=True, help="model directory (safetensors or pytorch_model*.bin)"
    )
    parser.add_argument(
        "--target_sparsity", type=float, default=0.5, help="target sparsity in [0, 1] (default 0.5)"
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="kept for compatibility: the streaming selection always runs on the CPU",
    )
    parser.add_argument(
        "--output_dir", default=".", help="where sparsity_distribution_{s}.json/.png go"
    )
    parser.add_argument(
        "--architecture",
        choices=["auto", *architecture_names()],
        default=None,
        help="modality patterns to use (default: the config's, else auto)",
    )
    parser.add_argument(
        "--vision_tower_path",
        default=None,
        help="LLaVA's original layout: the CLIP tower's checkpoint (default: the config's, else "
        "config.json's mm_vision_tower from the local Hugging Face cache)",
    )
    parser.add_argument(
        "--config", help="YAML file whose 'multiflow' section sets patterns and exclusions"
    )
    parser.add_argument("--no_plot", action="store_true", help="skip the PNG")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.device != "cpu":
        logging.info("--device %s ignored: weights are streamed and ranked on the CPU", args.device)

    try:
        section = {}
        if args.config:
            section = (yaml.safe_load(Path(args.config).read_text()) or {}).get("multiflow") or {}
        if args.architecture:
            section = {**section, "architecture": args.architecture}
        if args.vision_tower_path:
            section = {**section, "vision_tower_path": args.vision_tower_path}
        config = MultiflowConfig.from_mapping(section)
        stem = Path(args.output_dir) / f"sparsity_distribution_{args.target_sparsity}"
        run_step1(
            args.model_path,
            args.target_sparsity,
            f"{stem}.json",
            None if args.no_plot else f"{stem}.png",
            config,
        )
    except (CheckpointError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
