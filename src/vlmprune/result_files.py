"""Writing result files atomically, so that a failed job never leaves one half-written.

Every output of the library, JSON, figure, dataset or model directory, is written through
:func:`atomic_path`: to a temporary name beside its destination, which replaces the
destination only once the writing has succeeded.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Significant digits of every float in the JSON outputs: 0.0020000000000000018 is written 0.002.
SIGNIFICANT_DIGITS = 6


def rounded(obj: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """``obj`` with every float (in dicts, lists and tuples, at any depth) rounded to ``digits``
    significant digits.

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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) to write a file or directory to.

    When the block succeeds the temporary replaces ``path`` (an existing directory there is
    removed first); when it raises, the temporary is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    os.replace(tmp, path)


def ordinary_modes(directory: str | Path) -> None:
    """Give every file and folder under ``directory`` the modes the user's umask gives new ones.

    ``save_pretrained`` writes weights through a private temporary file (mode 0600); a
    directory handed to others (an export) should read like any other.
    """
    umask = os.umask(0)
    os.umask(umask)
    for root, _folders, files in os.walk(directory):
        os.chmod(root, 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, floats rounded (:func:`rounded`), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(rounded(obj), indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def save_figure(fig: Any, path: str | Path, **savefig: Any) -> None:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, **savefig)
    finally:
        plt.close(fig)
