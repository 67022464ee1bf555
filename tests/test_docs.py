"""The README stays the user's entry: short, with the details in docs/."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_readme_is_at_most_200_lines():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move details to a docs/ page"
