"""Where the draft renderer puts each character: inside its box, or in an automatic row.

Rectangles are pixel (x0, y0, x1, y1) with x1/y1 exclusive. Characters without a box share
the panel's width left free by the boxed ones, in equal slots in request order from left to
right, so they overlap neither one another nor a boxed character; the seed varies their
height and their position inside the slot. Only when boxes leave less than a slot's width
free does the row fall back to the whole width (later characters are drawn over earlier ones).
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


def free_spans(taken: Sequence[Rect], width: int) -> list[tuple[float, float]]:
    """Horizontal spans of the panel (inside the margins) that no rectangle in `taken` covers."""
    spans, left = [], MARGIN * width
    for x0, _, x1, _ in sorted(taken):
        if x0 > left:
            spans.append((left, float(x0)))
        left = max(left, float(x1))
    if width - MARGIN * width > left:
        spans.append((left, width - MARGIN * width))
    return spans


def _fits(spans: Sequence[tuple[float, float]], slot: float, gap: float) -> int:
    return sum(int((b - a + gap) // (slot + gap)) for a, b in spans)


def slots(spans: Sequence[tuple[float, float]], n: int, width: int) -> list[tuple[float, float]]:
    """n equal, non-overlapping slots, left to right, as wide as the free spans allow."""
    gap = GAP * width
    low, high = 0.0, float(width)
    for _ in range(40):  # bisect the widest slot width for which n slots fit
        middle = (low + high) / 2
        low, high = (middle, high) if _fits(spans, middle, gap) >= n else (low, middle)
    if low < 0.1 * width:  # boxes leave (almost) no room: use the whole width
        spans, low = [(MARGIN * width, width - MARGIN * width)], (width * (1 - 2 * MARGIN) - (n - 1) * gap) / n
    result = []
    for a, b in spans:
        left = a
        while len(result) < n and left + low <= b + 1e-6:
            result.append((left, left + low))
            left += low + gap
    return result


def auto_rects(sizes: Sequence[tuple[int, int]], width: int, height: int, floor: int,
               seed: int, taken: Sequence[Rect] = ()) -> list[Rect]:
    """A non-overlapping left-to-right row of cut-outs standing near `floor` (pixel y),
    in the room that the `taken` rectangles leave."""
    n = len(sizes)
    if n == 0:
        return []
    rng = np.random.default_rng(stream_seed("draft-layout", seed, n))
    rects = []
    for size, (left, right) in zip(sizes, slots(free_spans(taken, width), n, width)):
        bottom = floor - float(rng.uniform(0.0, 0.02)) * height
        tall = max(1.0, (bottom - TOP * height) * float(rng.uniform(*SCALE_RANGE)))
        x0, y0, x1, y1 = fit_bottom(size, (left, bottom - tall, right, bottom))
        shift = int(float(rng.uniform(-0.4, 0.4)) * ((right - left) - (x1 - x0)))
        rects.append((x0 + shift, y0, x1 + shift, y1))
    return rects


def place(sizes: Sequence[tuple[int, int]], boxes: Sequence[Optional[Box]], width: int,
          height: int, floor: int, seed: int) -> list[Rect]:
    """Rectangles for all subjects: boxed ones in their boxes, the others in the room left."""
    boxed = {i: box_rect(s, b, width, height) for i, (s, b) in enumerate(zip(sizes, boxes)) if b is not None}
    free = [i for i in range(len(sizes)) if i not in boxed]
    auto = iter(auto_rects([sizes[i] for i in free], width, height, floor, seed, list(boxed.values())))
    return [boxed[i] if i in boxed else next(auto) for i in range(len(sizes))]
