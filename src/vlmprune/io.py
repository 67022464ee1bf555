"""Writing result files atomically, so that a failed job never leaves one half-written."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

#: Significant digits of every float in the JSON outputs: 0.0020000000000000018 is written 0.002.
SIGNIFICANT_DIGITS = 6


def rounded(obj: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """``obj`` with every float (in dicts, lists and tuples, at any depth) rounded to ``digits`` significant digits.

    Floating-point noise of sums and differences then stays out of the result files; NaN and
    infinities, integers and booleans are kept as they are.
    """
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {key: rounded(value, digits) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(value, digits) for value in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, floats rounded (:func:`rounded`), renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(rounded(obj), indent=2) + "\n")
    os.replace(tmp, path)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
