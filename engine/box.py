"""Where a character goes in a panel: a box (x0, y0, x1, y1) in fractions of the panel's
width and height. The one check of a box, shared by the story, the exporters and the engines."""
from __future__ import annotations

from typing import Any, NamedTuple


class Box(NamedTuple):
    """A normalised box: 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 (built through `Box.of`)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def of(cls, values: Any) -> "Box":
        """Four numbers as a Box; ValueError saying what is wrong otherwise (NaN included)."""
        try:
            x0, y0, x1, y1 = (float(v) for v in values)
        except (TypeError, ValueError):
            raise ValueError(f"a box needs four numbers x0,y0,x1,y1; got {values!r}") from None
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise ValueError(f"the box {x0:g},{y0:g},{x1:g},{y1:g} must lie within 0..1 with x0 < x1 and y0 < y1")
        return cls(x0, y0, x1, y1)
