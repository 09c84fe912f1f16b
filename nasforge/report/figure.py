"""``Plot``: one image of a run's report. A leaf module, so that strategies and selections can
name the plots they add without importing the report (which reads their outputs)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plot:
    """One image of the report: its PNG's path relative to report.html and a caption."""

    src: str
    caption: str
