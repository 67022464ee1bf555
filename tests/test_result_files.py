"""Result files: atomic JSON with rounded floats."""

from __future__ import annotations

import json
import math

from vlmprune.result_files import read_json, rounded, write_json


def test_json_outputs_round_floats_to_six_significant_digits(tmp_path):
    data = {
        "importance": 0.0020000000000000018,
        "n": 64,
        "ok": True,
        "blocks": {"0": [0.1 + 0.2, 123456789.0, 1 / 3]},
        "ci": (-0.0, 2.5e-09 + 1e-24),
        "name": "drop-1",
        "missing": None,
    }
    write_json(tmp_path / "a.json", data)
    text = (tmp_path / "a.json").read_text()
    assert "0.0020000000000000018" not in text and "0.30000000000000004" not in text
    assert read_json(tmp_path / "a.json") == {
        "importance": 0.002,
        "n": 64,
        "ok": True,
        "blocks": {"0": [0.3, 123457000.0, 0.333333]},
        "ci": [-0.0, 2.5e-09],
        "name": "drop-1",
        "missing": None,
    }
    assert not (tmp_path / "a.json.tmp").exists()


def test_rounding_keeps_integers_booleans_and_non_finite_values():
    assert rounded([1, True, "0.123456789"]) == [1, True, "0.123456789"]
    assert math.isnan(rounded(float("nan"))) and rounded(float("inf")) == float("inf")
    assert rounded(0.984375) == 0.984375  # k/64 accuracies are exact in six digits
    json.dumps(rounded({"x": 1e-300}))
