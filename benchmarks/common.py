"""Small helpers shared by the benchmark scripts: paths, logging, provenance, JSON and plots.

Every result file records where it came from (date, git commit, versions, command line), so a
number in the README can be traced back to the code that produced it.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_NB201 = REPO.parent / "shared" / "data" / "nb201" / "nb201_compact.csv.gz"

log = logging.getLogger("benchmarks")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")


def display_path(path: str | Path) -> str:
    """``path`` relative to the repository (``../x`` next to it) when it lies there, so that
    committed results hold no machine-specific prefixes; else absolute."""
    path = Path(path).resolve()
    for base, prefix in ((REPO, Path()), (REPO.parent, Path(".."))):
        if path.is_relative_to(base):
            return str(prefix / path.relative_to(base))
    return str(path)


def nb201_table_path(given: str | None = None) -> Path:
    """The NB201 table: ``given``, else ``$NASFORGE_NB201``, else ``../shared/...`` next to the
    repository. The table is read in place, never copied into the repository."""
    return Path(given or os.environ.get("NASFORGE_NB201") or DEFAULT_NB201)


def git_commit() -> str | None:
    """The checked-out commit, with ``+dirty`` if the work tree has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty.strip() else "")


def metadata() -> dict[str, Any]:
    """Provenance of a result: when, from which code, with which interpreter and libraries."""
    import numpy
    import torch

    import nasforge

    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "nasforge": nasforge.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _flat(value: Any) -> bool:
    """A scalar, or a list/mapping of scalars: written on one line."""
    if isinstance(value, dict):
        return all(not isinstance(v, (dict, list)) for v in value.values())
    if isinstance(value, list):
        return all(not isinstance(v, (dict, list)) for v in value)
    return True


def dumps(value: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON, indented, but with lists of numbers and flat records on one line each (curves
    and per-run tables stay readable and small)."""
    if _flat(value) and (not isinstance(value, dict) or _level > 0):
        return json.dumps(value, allow_nan=False)
    pad, inner = " " * indent * _level, " " * indent * (_level + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {dumps(v, indent, _level + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}" if items else "{}"
    items = [inner + dumps(v, indent, _level + 1) for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]" if items else "[]"


def write_json(path: str | Path, payload: Mapping[str, Any], *, meta: bool = True) -> Path:
    """Write ``{"meta": metadata(), **payload}`` as JSON (see ``dumps``); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"meta": metadata(), **payload} if meta else dict(payload)
    path.write_text(dumps(_clean(data)) + "\n")
    log.info("wrote %s", path)
    return path


def new_figure(width: float = 6.4, height: float = 4.8) -> Figure:
    """A matplotlib figure on an Agg canvas (no pyplot, no global backend state)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": None} if path.suffix == ".png" else None)
    log.info("wrote %s", path)
    return path


def mean_std(values: Any) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    xs = [float(v) for v in values]
    if not xs:
        return math.nan, math.nan
    mean = sum(xs) / len(xs)
    if len(xs) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` holds the elapsed wall-clock seconds."""
    out = [0.0]
    start = time.perf_counter()
    try:
        yield out
    finally:
        out[0] = time.perf_counter() - start
