"""The ``vlmprune`` command: one entry point with a subcommand for every command line.

Commands are declared in :mod:`vlmprune.cli.commands` and their options in
:mod:`vlmprune.cli.options`; the work is done by library functions, imported only when their
command is parsed, so ``vlmprune --help`` is quick.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import logging
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import vlmprune
from vlmprune.cli.commands import COMMANDS, GROUPS, Command, Group
from vlmprune.cli.options import add_option
from vlmprune.errors import CheckpointError

__all__ = ["build_parser", "main", "run_old_entry_point"]

PROG = "vlmprune"
ROOT = Group(
    (),
    "Which blocks of a vision-language model can go, how to split a sparsity budget "
    "(MULTIFLOW), and what the pruned model costs. The workflow itself runs with snakemake.",
    "vlmprune multiflow step1 --model-path data/models/demo-llava --target-sparsity 0.5",
)
USER_ERRORS: tuple[type[BaseException], ...] = (KeyError, ValueError, OSError, CheckpointError)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Docstrings keep their lines; an option's help ends with its default, when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        default = action.default
        if isinstance(default, list | tuple):
            default = " ".join(map(str, default))
        shown = action.option_strings and action.nargs != 0 and not action.required
        if not shown or default is None or default == "":
            return action.help or ""
        return f"{action.help} (default: {str(default).replace('%', '%%')})"


def _docstring(module: str) -> str:
    """The module's docstring, read from its file (importing it could take seconds)."""
    path = Path(vlmprune.__file__).parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    return inspect.cleandoc(ast.get_docstring(ast.parse(path.read_text())) or "")


def _parser(path: tuple[str, ...], description: str, example: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=" ".join((PROG, *path)),
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=HelpFormatter,
    )


def _function(command: Command) -> Callable[..., Any]:
    module, name = command.function.split(":")
    return getattr(importlib.import_module(module), name)


def build_parser(command: Command) -> argparse.ArgumentParser:
    """The command's parser: one option per parameter of its function (``Literal``: choices)."""
    parser = _parser(command.path, _docstring(command.module), command.example)
    function = _function(command)
    hints = typing.get_type_hints(function)
    defaults = dict(command.defaults()) if command.defaults else {}
    for name, parameter in inspect.signature(function).parameters.items():
        default = defaults.get(name, parameter.default)
        required = default is inspect.Parameter.empty
        literal = typing.get_origin(hints.get(name)) is typing.Literal
        add_option(
            parser,
            name,
            default=None if required else default,
            required=required,
            help=command.help.get(name),
            choices=typing.get_args(hints[name]) if literal else command.choices.get(name),
        )
    return parser


def _group_parser(group: Group) -> argparse.ArgumentParser:
    """A parser whose only argument is the next word; it prints the group's help and errors."""
    parser = _parser(group.path, group.summary, group.example)
    if not group.path:
        parser.add_argument("--version", action="version", version=vlmprune.__version__)
    words = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for child in [*GROUPS, *COMMANDS]:
        if child.path[:-1] == group.path:
            words.add_parser(child.path[-1], help=child.summary)
    return parser


def _find(argv: Sequence[str]) -> tuple[Group | Command, list[str]]:
    """The group or command the leading words of ``argv`` name, and the rest of ``argv``."""
    node: Group | Command = ROOT
    depth = 0
    children = {c.path: c for c in [*GROUPS, *COMMANDS]}
    while isinstance(node, Group) and depth < len(argv):
        child = children.get((*node.path, argv[depth]))
        if child is None:
            break
        node, depth = child, depth + 1
    return node, list(argv[depth:])


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vlmprune ARGS``; a user error prints one ``error:`` line and returns 1."""
    node, rest = _find(sys.argv[1:] if argv is None else argv)
    if isinstance(node, Group):
        _group_parser(node).parse_args(rest)  # prints help or the error, and exits
        return 2
    options = vars(build_parser(node).parse_args(rest))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        code = _function(node)(**options)
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0


def run_old_entry_point(old: str, words: Sequence[str], argv: Sequence[str] | None) -> int:
    """``python -m OLD ARGS`` as ``vlmprune WORDS ARGS``, after a one-line notice."""
    new = " ".join((PROG, *words))
    print(f"vlmprune: `{old}` is deprecated, use `{new}`", file=sys.stderr)
    return main([*words, *(sys.argv[1:] if argv is None else argv)])
