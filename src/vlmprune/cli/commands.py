"""Every ``vlmprune`` command: its place in the tree, one-line summary, example and function.

A command runs one library function; the function's parameters are the command's options
(named in :data:`vlmprune.cli.options.OPTIONS`), its defaults their defaults, and a parameter
without a default a required option. The ``--help`` text is the function's module docstring.
A new benchmark ``vlmprune/bench/NAME.py`` with a ``run(...)`` function needs one line in
:data:`COMMANDS`: ``bench("NAME", "what it measures", "vlmprune bench NAME --samples 8")``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Command:
    """``function`` is ``module:name``, imported only when the command is parsed."""

    path: tuple[str, ...]
    function: str
    summary: str
    example: str
    help: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, Sequence[str] | Callable[[], Sequence[str]]] = field(default_factory=dict)
    defaults: Callable[[], Mapping[str, Any]] | None = None

    @property
    def module(self) -> str:
        return self.function.split(":")[0]


@dataclass(frozen=True)
class Group:
    """A word that gathers commands (``vlmprune bench``)."""

    path: tuple[str, ...]
    summary: str
    example: str


def bench(name: str, summary: str, example: str, **help: str) -> Command:
    """Benchmark ``name``: ``vlmprune.bench.<name>.run``; ``help`` overrides options' help."""
    module = f"vlmprune.bench.{name.replace('-', '_')}"
    return Command(("bench", name), f"{module}:run", summary, example, help)


def _architectures() -> list[str]:
    from vlmprune.multiflow.modality import architecture_names

    return ["auto", *architecture_names()]


def _comparison_defaults() -> dict[str, Any]:
    """The config schema's defaults (the one home of defaults) for the comparison's settings."""
    from vlmprune.settings import schema_defaults

    return {
        **schema_defaults("compare"),
        "analysis_split": schema_defaults("evaluation")["analysis_split"],
    }


GROUPS: list[Group] = [
    Group(
        ("bench",),
        "benchmarks: time the engine, beam search, exports, MULTIFLOW and the DAG's planning",
        "vlmprune bench engine --samples 16",
    ),
    Group(
        ("multiflow",),
        "MULTIFLOW from the command line: step 1's budgets, steps 2-3's masks",
        "vlmprune multiflow step1 --model-path data/models/demo-llava --target-sparsity 0.5",
    ),
]

COMMANDS: list[Command] = [
    bench(
        "engine",
        "fused evaluation of the baseline and all single-block ablations against naive",
        "vlmprune bench engine --architecture molmoe --demo-model /nonexistent",
        samples="samples for the ~100M-parameter model",
        rounds="naive and fused alternate this many times, each on its share of the samples",
        architecture="the ~100M-parameter model: LLaVA-shaped, or MolmoE-shaped (hidden 512)",
    ),
    bench(
        "beam",
        "one beam step's candidates naive, sharing the all-kept prefix, sharing every prefix",
        "vlmprune bench beam --beams '1,4;1,6;2,4' --samples 48",
    ),
    bench(
        "export",
        "speed-up of exported models against the ideal their block count allows",
        "vlmprune bench export --max-blocks-to-remove 4 --repeats 7",
    ),
    bench(
        "multiflow",
        "MULTIFLOW step 1's memory and time on a synthetic LLaVA-1.5-7B checkpoint",
        "vlmprune bench multiflow --layout original --format bin",
        work_dir="folder for the checkpoint, kept (default: a temporary one, removed)",
    ),
    bench(
        "multiflow-prune",
        "MULTIFLOW steps 1-3's time and memory on a random LLaVA of about 100 M parameters",
        "vlmprune bench multiflow-prune --samples 128 --method wanda",
        samples="calibration samples",
    ),
    bench(
        "racing",
        "racing each beam step against the exact search: forward passes, time, kept sets",
        "vlmprune bench racing --datasets easy_vqa --sample-counts 500 --epsilon 0.02",
        max_blocks_to_remove="the last beam step removes this many blocks",
        work_dir="folder for the evaluation stores, kept (default: a temporary one, removed)",
    ),
    bench(
        "dag",
        "how long Snakemake takes to plan the workflow at full scale (snakemake -n)",
        "vlmprune bench dag --repeats 3 --extra 'beam: {max_blocks_to_remove: 4}'",
    ),
    Command(
        ("multiflow", "step1"),
        "vlmprune.multiflow.step1:write_step1",
        "step 1: per-layer sparsity budgets from a per-modality |W| ranking, streamed",
        "vlmprune multiflow step1 --model-path data/models/demo-llava --target-sparsity 0.5",
        help={
            "output_dir": "where sparsity_distribution_{s}.json/.png go",
            "device": "ignored (the original script's flag): weights are ranked on the CPU",
            "architecture": "modality patterns to use (default: the config's, else auto)",
        },
        choices={"architecture": _architectures},
    ),
    Command(
        ("multiflow", "prune"),
        "vlmprune.multiflow.prune:compute_masks",
        "steps 1-3: budgets, one calibration pass, scores, masks to the budgets",
        "vlmprune multiflow prune --model-path data/models/demo-llava "
        "--data data/prepared/easy_vqa/train --target-sparsity 0.5 --samples 128",
        help={
            "samples": "calibration samples",
            "seed": "which calibration samples are drawn",
            "batch_size": "calibration batch size",
            "output_dir": "where masks_{method}_{s}.safetensors/.json go",
        },
    ),
    Command(
        ("compare",),
        "vlmprune.analysis.compare.from_results:compare_results",
        "train against validation block importance, from existing result files",
        "vlmprune compare --datasets all --results results --output-dir results/compare",
        help={
            "seed": "seed of the bootstrap",
            "output_dir": "also write the JSON, PNG and HTML files into this folder",
        },
        defaults=_comparison_defaults,
    ),
]
