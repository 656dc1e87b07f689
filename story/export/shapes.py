"""The drawing primitives of a page scene: filled/stroked polygons and lines of text.

Positions are page points (origin top-left); pdf.py and png.py draw them identically.
"""
from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[int, int, int]
BLACK, WHITE = (0, 0, 0), (255, 255, 255)


@dataclass(frozen=True)
class Shape:
    """A closed polygon to fill and/or stroke."""

    points: tuple[tuple[float, float], ...]
    fill: RGB | None = WHITE
    stroke: RGB | None = BLACK
    width: float = 1.0
    dash: tuple[float, float] | None = None


@dataclass(frozen=True)
class TextRun:
    face: str
    text: str
    x: float


@dataclass(frozen=True)
class TextLine:
    """One line of text: runs in their faces, on a common baseline."""

    runs: tuple[TextRun, ...]
    baseline: float
    size: float
    color: RGB = BLACK

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)
