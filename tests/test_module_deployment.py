"""The workflow deployed as the Snakemake Workflow Catalog's standardized usage describes.

A fresh directory outside the repository holds its own ``config/config.yaml`` and a
``workflow/Snakefile`` that uses this workflow as a module (what ``snakedeploy
deploy-workflow`` writes, with a local path instead of a git URL). Scripts, schema, report
captions and environments must resolve inside the module, and the run records must hold no
path of either directory, so that a copied project plans nothing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from workflow_helpers import REPO, snakemake, write_config

pytestmark = pytest.mark.e2e

BLOCKS = 4
TARGET = "results/importance/easy_vqa.json"
BUDGETS = "results/multiflow/sparsity_distribution_0.5.json"  # its figure is in the report
PROJECT_SNAKEFILE = Path("workflow", "Snakefile")  # the project's own, relative to its directory

MODULE_LINES = """\
configfile: "config/config.yaml"


module vlmprune:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from vlmprune
"""


def deploy(project: Path, config: dict) -> Path:
    """A project that uses the repository's workflow as a module, with its own config."""
    write_config(project, config)
    snakefile = project / PROJECT_SNAKEFILE
    snakefile.parent.mkdir()
    snakefile.write_text(MODULE_LINES.format(snakefile=REPO / "workflow" / "Snakefile"))
    return project


def snakemake_here(project: Path, *args: str, check: bool = True):
    """Snakemake in ``project`` on its own Snakefile, as the user runs it there."""
    return snakemake(project, *args, check=check, snakefile=PROJECT_SNAKEFILE)


def tiny_config(model: Path) -> dict:
    return {
        "model": {"path": str(model), "device": "cpu", "dtype": "float32"},
        "datasets": {"easy_vqa": {"splits": ["val"]}},
        "evaluation": {"num_samples": 4, "batch_size": 4, "chunk_size": 4, "analysis_split": "val"},
        "multiflow": {"targets": [0.5]},
    }


@pytest.fixture(scope="module")
def deployed(tiny_llava: Path, tmp_path_factory: pytest.TempPathFactory, seed_prepared) -> Path:
    project = deploy(tmp_path_factory.mktemp("deployed") / "project", tiny_config(tiny_llava))
    seed_prepared(project, "easy_vqa", "val")
    snakemake_here(project, "--cores", "2", TARGET, BUDGETS)
    return project


def test_the_module_builds_block_importance_in_the_project(deployed: Path):
    importance = json.loads((deployed / TARGET).read_text())
    assert list(importance) == [str(i) for i in range(BLOCKS)]
    assert (deployed / "logs" / "ablate" / "easy_vqa" / "val.log").is_file()
    assert (deployed / "benchmarks" / "ablate" / "easy_vqa" / "val.tsv").is_file()


def test_the_report_finds_its_descriptions_in_the_module(deployed: Path):
    snakemake_here(deployed, "--report", "report.html", TARGET, BUDGETS)
    report = (deployed / "report.html").read_text()
    assert "which transformer blocks of a vision-language model can be removed" in report
    assert "MULTIFLOW step 1 at a global sparsity of" in report


def test_the_run_records_hold_no_path_of_the_project_or_the_module(deployed: Path, tiny_llava):
    records = [
        json.loads(path.read_text()) for path in (deployed / ".snakemake" / "metadata").iterdir()
    ]
    assert len(records) >= 4
    text = json.dumps(records).replace(str(tiny_llava), "<the configured model>")
    assert str(REPO) not in text and str(deployed) not in text


def test_a_copied_project_plans_nothing(deployed: Path, tmp_path: Path):
    copy = tmp_path / "copied"
    subprocess.run(["cp", "-a", str(deployed), str(copy)], check=True)
    result = snakemake_here(copy, "-n", TARGET, BUDGETS)
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


def test_a_missing_key_fails_at_validation_naming_it_as_at_the_repository_root(tmp_path: Path):
    config = {"datasets": {"easy_vqa": {"splits": ["val"]}}}
    project = deploy(tmp_path / "project", config)
    as_module = snakemake_here(project, "-n", check=False)
    at_root = snakemake(project, "-n", check=False)
    for result in (as_module, at_root):
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "Error validating config file" in output
        assert "'model' is a required property" in output
    assert not (project / "results").exists()
