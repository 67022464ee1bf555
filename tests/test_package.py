"""The package as a maintainer keeps it: what each package holds, its dependencies, one version."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import pkgutil
import re
import sys
import tomllib
from pathlib import Path

import pytest

import vlmprune

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = sorted(m.name for m in pkgutil.iter_modules(vlmprune.__path__) if m.ispkg)
# packages whose __all__ re-exports names rather than listing the package's modules
REEXPORTING = {"cli", "metrics", "multiflow"}
# packages whose modules are described where they are registered (vlmprune.cli.commands)
REGISTERED = {"bench"}


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_says_what_it_holds(name):
    package = importlib.import_module(f"vlmprune.{name}")
    assert package.__doc__ and len(package.__doc__.split()) >= 8
    assert package.__all__
    if name in REEXPORTING:
        assert all(hasattr(package, n) for n in package.__all__)
    else:
        modules = {m.name for m in pkgutil.iter_modules(package.__path__)} - {"__main__"}
        assert sorted(package.__all__) == sorted(modules)
        described = set() if name in REGISTERED else modules
        undescribed = [m for m in described if not re.search(rf"\b{m}\b", package.__doc__)]
        assert undescribed == []


def _third_party_imports() -> set[str]:
    """Top-level names of every module src/ imports, at module level or inside functions."""
    names = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "vlmprune"}


def _normalise(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement)[0]).lower()


def test_pyproject_declares_every_package_src_imports():
    declared = {_normalise(r) for r in PYPROJECT["project"]["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    missing = {
        name: distributions.get(name)
        for name in _third_party_imports()
        if not {_normalise(d) for d in distributions.get(name, [name])} & declared
    }
    assert missing == {}


def test_the_version_is_written_once():
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vlmprune.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", vlmprune.__version__)
    assert f"## [{vlmprune.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_the_console_command_is_declared():
    assert PYPROJECT["project"]["scripts"] == {"vlmprune": "vlmprune.cli:main"}
