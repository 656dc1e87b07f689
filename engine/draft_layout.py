"""Where the draft renderer puts each character: inside its box, or in an automatic row.

Rectangles are pixel (x0, y0, x1, y1) with x1/y1 exclusive. Characters without a box share
the panel's width in equal slots, in request order from left to right, so they never
overlap one another; the seed varies their height and their position inside the slot.
The row does not avoid boxed characters: a writer who boxes some characters and not others
may see them overlap, and later characters are drawn over earlier ones.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from engine.base import Box
from engine.draft_background import stream_seed

Rect = tuple[int, int, int, int]

MARGIN = 0.04
"""Left/right panel margin of the automatic row, as a share of the width."""
GAP = 0.03
"""Space between two automatic slots, as a share of the width."""
TOP = 0.1
"""Automatic characters stay below this share of the height."""
SCALE_RANGE = (0.72, 1.0)
"""Seeded share of the available height an automatic character gets."""


def fit_bottom(size: tuple[int, int], area: tuple[float, float, float, float]) -> Rect:
    """The largest rectangle of `size`'s aspect inside `area`, centred, resting on its bottom.

    Sizes and positions round down, so the result never leaves the area's pixels."""
    w, h = size
    x0, y0, x1, y1 = area
    scale = min((x1 - x0) / w, (y1 - y0) / h)
    nw, nh = max(1, math.floor(w * scale)), max(1, math.floor(h * scale))
    left = math.floor((x0 + x1 - nw) / 2)
    bottom = math.floor(y1)
    return left, bottom - nh, left + nw, bottom


def box_rect(size: tuple[int, int], box: Box, width: int, height: int) -> Rect:
    """Fit a cut-out of `size` into a normalised box of a (width x height) panel."""
    x0, y0, x1, y1 = box
    return fit_bottom(size, (x0 * width, y0 * height, x1 * width, y1 * height))


def auto_rects(sizes: Sequence[tuple[int, int]], width: int, height: int, floor: int,
               seed: int) -> list[Rect]:
    """A non-overlapping left-to-right row of cut-outs standing near `floor` (pixel y)."""
    n = len(sizes)
    if n == 0:
        return []
    rng = np.random.default_rng(stream_seed("draft-layout", seed, n))
    margin, gap = MARGIN * width, GAP * width
    slot = (width - 2 * margin - (n - 1) * gap) / n
    rects = []
    for i, size in enumerate(sizes):
        left = margin + i * (slot + gap)
        bottom = floor - float(rng.uniform(0.0, 0.02)) * height
        tall = max(1.0, (bottom - TOP * height) * float(rng.uniform(*SCALE_RANGE)))
        x0, y0, x1, y1 = fit_bottom(size, (left, bottom - tall, left + slot, bottom))
        shift = int(float(rng.uniform(-0.4, 0.4)) * (slot - (x1 - x0)))
        rects.append((x0 + shift, y0, x1 + shift, y1))
    return rects


def place(sizes: Sequence[tuple[int, int]], boxes: Sequence[Optional[Box]], width: int,
          height: int, floor: int, seed: int) -> list[Rect]:
    """Rectangles for all subjects: boxed ones in their boxes, the others in the auto row."""
    free = [i for i, b in enumerate(boxes) if b is None]
    auto = iter(auto_rects([sizes[i] for i in free], width, height, floor, seed))
    return [box_rect(s, b, width, height) if b is not None else next(auto)
            for s, b in zip(sizes, boxes)]
