"""The ``vlmprune`` command: help texts, one flag per quantity, old spellings, old entry points."""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys

import pytest

import vlmprune.bench
from vlmprune.cli import build_parser, main
from vlmprune.cli.commands import COMMANDS, GROUPS
from vlmprune.cli.options import OPTIONS

KEBAB = re.compile(r"^--[a-z0-9]+(-[a-z0-9]+)*$")
PARSERS = {" ".join(c.path): build_parser(c) for c in COMMANDS}


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.dest != "help"]


@pytest.mark.parametrize(
    "words", [[]] + [list(g.path) for g in GROUPS] + [list(c.path) for c in COMMANDS], ids=str
)
def test_every_help_says_what_it_does_and_shows_an_example(words, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*words, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(['vlmprune', *words])} ")
    description = out.split("\n\n")[1]
    assert len(description.split()) >= 5  # a sentence, not a stub
    example = out.split("example:\n")[1].strip()
    assert example.startswith(" ".join(["vlmprune", *words]))
    for old in (old for option in OPTIONS.values() for old in option.old):
        assert not re.search(rf"{re.escape(old)}\b(?!-)", out), f"{old} shown in --help"


def test_one_quantity_has_one_flag_in_every_command():
    flags: dict[str, set[str]] = {}
    for parser in PARSERS.values():
        for action in _options(parser):
            flags.setdefault(action.dest, set()).update(action.option_strings)
    assert {dest: spelled for dest, spelled in flags.items() if len(spelled) != 1} == {}
    visible = {flag for spelled in flags.values() for flag in spelled}
    assert sorted(f for f in visible if not KEBAB.match(f)) == []
    old = {o for option in OPTIONS.values() for o in option.old}
    assert visible & old == set()  # an old spelling never names another quantity
    # the quantities the issue found spelled differently
    for command in ("bench engine", "bench beam", "bench multiflow-prune", "multiflow prune"):
        assert {"--samples", "--batch-size"} <= _flags(command)
    for command in ("bench engine", "bench beam", "bench export", "bench multiflow-prune"):
        assert {"--text-hidden", "--text-layers"} <= _flags(command)
    for command in (
        "bench multiflow",
        "bench multiflow-prune",
        "multiflow step1",
        "multiflow prune",
    ):
        assert "--target-sparsity" in _flags(command)
    assert "--analysis-split" in _flags("compare")


def _flags(command: str) -> set[str]:
    return {flag for action in _options(PARSERS[command]) for flag in action.option_strings}


def test_every_benchmark_is_a_command():
    registered = {c.path[1].replace("-", "_") for c in COMMANDS if c.path[0] == "bench"}
    assert registered == set(vlmprune.bench.__all__)


def test_every_option_is_used_and_every_old_spelling_is_unique():
    used = {a.dest for parser in PARSERS.values() for a in parser._actions}
    assert sorted(set(OPTIONS) - used) == []
    spellings = [o for option in OPTIONS.values() for o in option.old]
    spellings += [option.flag for option in OPTIONS.values() if option.flag]
    assert len(spellings) == len(set(spellings))


def test_old_spellings_parse_alike_and_print_a_notice(capsys):
    parser = PARSERS["bench multiflow-prune"]
    old = parser.parse_args(
        ["--batch_size", "4", "--nsamples=9", "--text_hidden", "64", "--dir", "w"]
    )
    new = parser.parse_args(
        ["--batch-size", "4", "--samples=9", "--text-hidden", "64", "--work-dir", "w"]
    )
    assert vars(old) == vars(new)
    assert vars(new)["batch_size"] == 4 and vars(new)["samples"] == 9
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "vlmprune: --batch_size is deprecated, use --batch-size",
        "vlmprune: --nsamples is deprecated, use --samples",
        "vlmprune: --text_hidden is deprecated, use --text-hidden",
        "vlmprune: --dir is deprecated, use --work-dir",
    ]
    flag = PARSERS["multiflow step1"].parse_args(["--model-path", "m", "--no_plot"])
    assert flag.plot is False and "--no_plot is deprecated" in capsys.readouterr().err


def test_an_old_spelling_reaches_the_command(tmp_path, capsys):
    """``--model_path`` satisfies the required ``--model-path``; the step reports the bad path."""
    code = main(
        ["multiflow", "step1", "--model_path", str(tmp_path / "nowhere")]
        + ["--target_sparsity", "0.5", "--output_dir", str(tmp_path / "out")]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "--model_path is deprecated, use --model-path" in err
    assert "--target_sparsity is deprecated, use --target-sparsity" in err
    assert "error: model path not found" in err
    assert not (tmp_path / "out").exists()


def test_errors_name_the_new_spelling(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["multiflow", "prune", "--data", "d"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: --model-path" in err and "model_path" not in err
    with pytest.raises(SystemExit):
        main(["bench", "engine", "--architecture", "gpt2"])
    assert "invalid choice: 'gpt2'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "nothing"])
    assert "invalid choice: 'nothing'" in capsys.readouterr().err


def test_old_entry_points_run_the_new_command(tmp_path):
    """``python -m vlmprune.multiflow`` with the original script's flags still runs step 1."""
    run = subprocess.run(
        [sys.executable, "-m", "vlmprune.multiflow", "--model_path", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    lines = run.stderr.splitlines()
    assert lines[0] == (
        "vlmprune: `python -m vlmprune.multiflow` is deprecated, use `vlmprune multiflow step1`"
    )
    assert lines[1] == "vlmprune: --model_path is deprecated, use --model-path"
    assert f"error: no weight files in {tmp_path}" in run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "vlmprune", "--help"], capture_output=True, text=True
    )
    assert run.returncode == 0 and run.stdout.startswith("usage: vlmprune ")


@pytest.mark.parametrize(
    "module, words",
    [
        ("vlmprune.bench.__main__", ["dag"]),
        ("vlmprune.analysis.compare.__main__", []),
        ("vlmprune.multiflow.prune", []),
    ],
)
def test_every_old_entry_point_prints_the_new_command(module, words, capsys):
    with pytest.raises(SystemExit) as exit:
        importlib.import_module(module).main([*words, "--help"])
    assert exit.value.code == 0
    captured = capsys.readouterr()
    new = re.search(r"use `(vlmprune[^`]*)`", captured.err).group(1)
    assert captured.err.count("\n") == 1 and captured.out.startswith(f"usage: {new} ")
