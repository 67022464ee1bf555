"""The options of every ``vlmprune`` command, one entry per quantity.

A command's options are the parameters of the library function it runs (see
:mod:`vlmprune.cli.commands`); each parameter name is a key here, which fixes its flag, type
and help everywhere, so one quantity has one flag in every command. Old spellings stay
accepted, hidden from ``--help``, and print a one-line notice when used.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Option:
    """How one quantity is spelled and parsed; ``flag`` None makes it positional."""

    flag: str | None
    help: str
    type: Callable[[str], Any] | None = None
    nargs: str | None = None
    action: str | None = None
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    old: tuple[str, ...] = field(default=())


def _pruning_methods() -> Sequence[str]:
    from vlmprune.engine.variants import PRUNING_METHODS

    return PRUNING_METHODS


OPTIONS: dict[str, Option] = {
    # models, data and files
    "model_path": Option(
        "--model-path",
        "model folder written by save_pretrained (safetensors or pytorch_model*.bin)",
        old=("--model_path",),
    ),
    "demo_model": Option(
        "--demo-model",
        "the demo model's folder (built by the workflow's demo_model rule); skipped if absent",
        type=Path,
    ),
    "data": Option(
        "--data", "prepared records, a folder written by rule prepare_dataset", type=Path
    ),
    "datasets": Option(
        "--datasets",
        "dataset names, or 'all' for every dataset with both splits",
        nargs="+",
        old=("--dataset_name",),
    ),
    "results": Option("--results", "the workflow's results folder", type=Path),
    "config_file": Option(
        "--config", "YAML file whose 'multiflow' section sets patterns and exclusions", type=Path
    ),
    "output_dir": Option(
        "--output-dir", "folder the output files go to", type=Path, old=("--output_dir", "--out")
    ),
    "work_dir": Option(
        "--work-dir",
        "working folder, kept afterwards (default: a temporary one, removed afterwards)",
        type=Path,
        old=("--dir",),
    ),
    "snakefile": Option("--snakefile", "the workflow's Snakefile", type=Path),
    "json_file": Option("--json", "also write the figures to this JSON file", type=Path),
    "device": Option("--device", "auto, cpu or cuda"),
    # the randomly initialised models of the benchmarks
    "architecture": Option("--architecture", "model architecture", old=("--arch",)),
    "text_hidden": Option(
        "--text-hidden",
        "hidden size of the random model's language decoder",
        type=int,
        old=("--hidden", "--text_hidden"),
    ),
    "text_intermediate": Option(
        "--text-intermediate",
        "MLP size of the random model's language decoder",
        type=int,
        old=("--text_intermediate",),
    ),
    "text_layers": Option(
        "--text-layers",
        "blocks of the random model's language decoder",
        type=int,
        old=("--layers", "--text_layers"),
    ),
    "vision_hidden": Option(
        "--vision-hidden",
        "hidden size of the random model's vision tower",
        type=int,
        old=("--vision_hidden",),
    ),
    "vision_layers": Option(
        "--vision-layers",
        "layers of the random model's vision tower",
        type=int,
        old=("--vision_layers",),
    ),
    "layout": Option("--layout", "checkpoint layout", choices=("hf", "original")),
    "checkpoint_format": Option(
        "--format", "file format of the checkpoint", choices=("safetensors", "bin")
    ),
    # evaluation and timing
    "samples": Option("--samples", "samples used", type=int, old=("--nsamples",)),
    "demo_samples": Option("--demo-samples", "samples for the demo model", type=int),
    "batch_size": Option("--batch-size", "samples per batch", type=int, old=("--batch_size",)),
    "max_new_tokens": Option(
        "--max-new-tokens", "most tokens generated per answer (easy-VQA's are short)", type=int
    ),
    "new_tokens": Option("--new-tokens", "tokens generated per timed run", type=int),
    "rounds": Option(
        "--rounds", "the ways alternate this many times, each on its share of the samples", type=int
    ),
    "repeats": Option("--repeats", "timed runs; the median is reported", type=int),
    "seed": Option("--seed", "random seed", type=int),
    # pruning
    "target_sparsity": Option(
        "--target-sparsity",
        "fraction of the prunable weights removed, strictly between 0 and 1",
        type=float,
        old=("--target_sparsity", "--target"),
    ),
    "method": Option("--method", "pruning method", choices=_pruning_methods),
    "vision_tower_path": Option(
        "--vision-tower-path",
        "LLaVA's original layout: the CLIP tower's checkpoint (default: the config's, else "
        "config.json's mm_vision_tower from the local Hugging Face cache)",
        old=("--vision_tower_path",),
    ),
    "plot": Option("--no-plot", "skip the PNG", action="store_false", old=("--no_plot",)),
    "max_blocks_to_remove": Option(
        "--max-blocks-to-remove",
        "export without k = 1 .. this many blocks",
        type=int,
        old=("--max-k",),
    ),
    "beams": Option("--beams", "step k's beams, ';' between beams, ',' between blocks"),
    "beam_width": Option("--beam-width", "sets kept after each beam step", type=int),
    "sample_counts": Option(
        "--sample-counts", "values of N, the samples of each dataset split", type=int, nargs="+"
    ),
    # racing (beam.racing)
    "epsilon": Option("--epsilon", "racing's tolerance on accuracy", type=float),
    "delta": Option("--delta", "racing's error probability per beam step", type=float),
    "min_samples": Option("--min-samples", "samples before racing's first look", type=int),
    "replays": Option(
        "--replays", "epsilon:delta pairs replayed on the exact scores, ',' between pairs"
    ),
    # comparison of importance
    "threshold": Option(
        "--threshold", "Spearman's rho above which the splits are consistent", type=float
    ),
    "k_least": Option(
        "--k-least", "how many least important blocks are compared", type=int, old=("--k_least",)
    ),
    "confidence": Option("--confidence", "level of the bootstrap interval", type=float),
    "bootstrap_resamples": Option(
        "--bootstrap-resamples",
        "bootstrap resamples of Spearman's rho",
        type=int,
        old=("--bootstrap_resamples",),
    ),
    "analysis_split": Option(
        "--analysis-split",
        "the split whose importance the summary over datasets uses",
        choices=("train", "val"),
        old=("--analysis_split",),
    ),
    # planning the workflow
    "splits": Option("--splits", "splits of every dataset", nargs="+"),
    "extra": Option("--extra", "YAML mapping merged into the config, e.g. 'beam: {beam_width: 2}'"),
    "small": Option(
        "--no-small",
        "skip the reference plan of one dataset and one split (the fixed start-up cost)",
        action="store_false",
    ),
    "snakemake_args": Option(None, "extra snakemake arguments (after --)", nargs="*"),
}


class Store(argparse.Action):
    """argparse's ``store``, printing a one-line notice when invoked by an old spelling."""

    old: tuple[str, ...] = ()

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if option_string in self.old:
            new = self.option_strings[0]
            print(f"vlmprune: {option_string} is deprecated, use {new}", file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


class StoreFalse(Store):
    """argparse's ``store_false``, with :class:`Store`'s notice."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", True)
        super().__init__(option_strings, dest, nargs=0, const=False, **kwargs)


def add_option(
    parser: argparse.ArgumentParser,
    key: str,
    *,
    default: Any,
    required: bool,
    help: str | None = None,
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None,
) -> argparse.Action:
    """Add option ``key`` with this command's default, and its old spellings as hidden aliases."""
    try:
        option = OPTIONS[key]
    except KeyError:
        raise KeyError(
            f"no option {key!r} in vlmprune.cli.options.OPTIONS: add it (one flag per quantity)"
        ) from None
    choices = choices if choices is not None else option.choices
    kwargs: dict[str, Any] = {"help": help or option.help, "default": default}
    if option.action == "store_false":
        kwargs["action"] = StoreFalse
    else:
        kwargs.update(type=option.type, nargs=option.nargs)
        kwargs["choices"] = choices() if callable(choices) else choices
    if option.flag is None:
        return parser.add_argument(key, **kwargs)
    kwargs.setdefault("action", Store)
    if kwargs["action"] is Store and not kwargs.get("choices"):
        kwargs["metavar"] = option.flag.lstrip("-").upper().replace("-", "_")
    action = parser.add_argument(option.flag, dest=key, required=required, **kwargs)
    action.old = option.old
    for old in option.old:
        # the same action under its old spelling: parsed alike, absent from --help and messages
        if old in parser._option_string_actions:
            raise ValueError(f"{old} is both an option and an old spelling of {option.flag}")
        parser._option_string_actions[old] = action
    return action
