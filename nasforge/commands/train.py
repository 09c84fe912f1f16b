"""``nasforge train``: the command-line door to ``nasforge.train`` (``nasforge.model.retrain``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nasforge.errors import ConfigError
from nasforge.model.retrain import train


def retrain(arch_json: Path, config_path: Path | None, overrides: Sequence[str],
            epochs: int | None, out: Path | None, progress: bool | None,
            onnx: bool = False) -> dict[str, Any]:
    """Retrain the architecture of ``arch_json`` (a best.json, or its run directory) from
    scratch on the task of ``config_path`` (default: the run's config.yaml)."""
    if epochs is not None and epochs <= 0:
        raise ConfigError(f"--epochs must be positive, got {epochs}")
    return train(arch_json, epochs, config=config_path, out=out, onnx=onnx,
                 progress=progress, overrides=overrides)


def report_lines(record: dict[str, Any], seconds: float) -> list[str]:
    """What the command prints: the scores, then every file it wrote."""
    metric = "ppl" if "valid_ppl" in record else "acc"  # language models: perplexity
    valid = record[f"valid_{metric}"]
    lines = [f"valid_{metric} {_number(valid)}  test_{metric} "
             f"{_number(record[f'test_{metric}'])}  params {record['params']:,}  "
             f"({seconds:.0f}s)"]
    lines += [f"wrote {path}" for path in record["files"]]
    if metric == "acc":
        lines.append(f"predict with it in Python: nasforge.load({record['model']!r})"
                     ".predict(x)")
    return lines


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
