"""The report's captions: Snakemake renders each with Jinja, then as reStructuredText."""

from __future__ import annotations

import io
from pathlib import Path

import docutils.core
import jinja2
import pytest

REPORT = Path(__file__).resolve().parents[1] / "workflow" / "report"


class Anything:
    """Stands in for the ``snakemake`` object of a caption: every attribute is a word."""

    def __getattr__(self, name: str) -> Anything:
        return self

    def __getitem__(self, key: object) -> Anything:
        return self

    def __str__(self) -> str:
        return "easy_vqa"


@pytest.mark.parametrize("caption", sorted(REPORT.glob("*.rst")), ids=lambda p: p.name)
def test_a_caption_renders_without_errors(caption: Path) -> None:
    text = jinja2.Template(caption.read_text()).render(snakemake=Anything())
    problems = io.StringIO()
    docutils.core.publish_parts(
        text, writer="html", settings_overrides={"warning_stream": problems}
    )
    assert problems.getvalue() == ""
