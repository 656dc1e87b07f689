"""The "auto" page layout: rows and pages chosen from the panels' shapes so pages are full.

Each panel brings a PanelShape: its art's aspect ratio and how far its frame may depart
from it (only as far as cropping leaves every character whole, and only where the writer
allowed cropping). Every row spans the page width; a page's row heights are bent within
those limits until the rows fill the page height. A dynamic programme over the story
picks the split into pages and rows with the least empty page, the least cropping and no
tiny panels; the last page may end early.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from story.export.document import ComicPanel

MAX_PER_ROW = 3
MAX_PER_PAGE = 7        # more panels than this make a page hard to read
MIN_ROW_SHARE = 0.2      # a row lower than this share of the page makes panels too small...
MAX_ROW_SHARE = 0.55     # ...and one higher than this turns a story panel into a splash
MAX_ROWS = 4
EMPTY_COST, CROP_COST, SMALL_COST, PAGE_COST, CRAMP_COST = 6.0, 0.6, 10.0, 0.6, 3.0
LAST_PAGE_SHARE = 0.5    # the last page may end early: its empty part counts half


@dataclass(frozen=True)
class PanelShape:
    """Width/height of a panel's art, the narrowest and widest frame it may take, and the
    area (square points) its lettering wants, so wordy panels get bigger frames."""

    aspect: float
    lo: float
    hi: float
    text_area: float = 0.0


Row = list[tuple[ComicPanel, float, float]]  # (panel, width, height) side by side


@dataclass(frozen=True)
class _Page:
    rows: list[Row]
    cost: float


def auto_pages(panels: Sequence[ComicPanel], shapes: Mapping[int, PanelShape],
               width: float, height: float, gutter: float) -> list[list[Row]]:
    """Split panels into pages of justified rows that fill a width x height content area."""
    n = len(panels)
    best: list[tuple[float, int, list[Row]]] = [(0.0, n, [])] * (n + 1)
    for start in range(n - 1, -1, -1):
        choices = []
        for end in range(start + 1, min(n, start + MAX_PER_PAGE) + 1):
            page = _best_page(panels[start:end], shapes, width, height, gutter, last=end == n)
            if page is not None:
                choices.append((page.cost + PAGE_COST + best[end][0], end, page.rows))
        best[start] = min(choices, key=lambda choice: choice[0])
    pages, start = [], 0
    while start < n:
        _, end, rows = best[start]
        pages.append(rows)
        start = end
    return pages


def _row_splits(panels: Sequence[ComicPanel]) -> list[list[list[ComicPanel]]]:
    """Every way to cut panels into consecutive rows of 1..MAX_PER_ROW; a wide panel rows alone."""
    if not panels:
        return [[]]
    result = []
    for size in range(1, min(MAX_PER_ROW, len(panels)) + 1):
        row = list(panels[:size])
        if size > 1 and any(p.hint == "wide" for p in row):
            break
        result += [[row] + rest for rest in _row_splits(panels[size:])]
    return result


def _best_page(panels: Sequence[ComicPanel], shapes: Mapping[int, PanelShape], width: float,
               height: float, gutter: float, last: bool) -> _Page | None:
    pages = [_fit_page(rows, shapes, width, height, gutter, last)
             for rows in _row_splits(panels) if len(rows) <= MAX_ROWS]
    return min(pages, key=lambda page: page.cost) if pages else None


def _fit_page(rows: list[list[ComicPanel]], shapes: Mapping[int, PanelShape], width: float,
              height: float, gutter: float, last: bool) -> _Page:
    """Row heights bent within the panels' limits to fill the height, then scored."""
    free = [width - gutter * (len(row) - 1) for row in rows]
    room = height - gutter * (len(rows) - 1)
    natural = [w / sum(shapes[p.index].aspect for p in row) for w, row in zip(free, rows)]
    low = [w / sum(shapes[p.index].hi for p in row) for w, row in zip(free, rows)]
    high = [w / sum(shapes[p.index].lo for p in row) for w, row in zip(free, rows)]
    heights = _bend(natural, low, high, room)
    scale = min(1.0, room / sum(heights))
    placed, crop, area, cramp = [], 0.0, 0.0, 0.0
    for row, w, h in zip(rows, free, heights):
        aspects = _row_aspects([shapes[p.index] for p in row], w / h)
        crop += sum(abs(math.log(a / shapes[p.index].aspect)) for a, p in zip(aspects, row))
        placed.append([(p, a * h * scale, h * scale) for a, p in zip(aspects, row)])
        area += sum(a * h * scale * h * scale for a in aspects)
        cramp += sum(max(0.0, 1 - a * (h * scale) ** 2 / shapes[p.index].text_area)
                     for a, p in zip(aspects, row) if shapes[p.index].text_area)
    fill = area / (width * height)
    small = sum(max(0.0, MIN_ROW_SHARE - h * scale / height) + max(0.0, h * scale / height - MAX_ROW_SHARE)
                for h in heights)
    empty = (1 - fill) * (LAST_PAGE_SHARE if last else 1.0)
    return _Page(placed, EMPTY_COST * empty + CROP_COST * crop + SMALL_COST * small + CRAMP_COST * cramp)


def _bend(natural: list[float], low: list[float], high: list[float], room: float) -> list[float]:
    """Move every row height from natural towards its limit by the same share until they sum to room."""
    total = sum(natural)
    if total < room:
        slack = sum(h - n for n, h in zip(natural, high))
        share = min(1.0, (room - total) / slack) if slack > 1e-9 else 0.0
        return [n + share * (h - n) for n, h in zip(natural, high)]
    if total > room:
        slack = sum(n - lo for n, lo in zip(natural, low))
        share = min(1.0, (total - room) / slack) if slack > 1e-9 else 0.0
        return [n - share * (n - lo) for n, lo in zip(natural, low)]
    return natural


def _row_aspects(shapes: list[PanelShape], wanted: float) -> list[float]:
    """Frame aspects summing to `wanted`, each moved from its art's by the same share of its room."""
    total = sum(s.aspect for s in shapes)
    if wanted > total:
        slack = sum(s.hi - s.aspect for s in shapes)
        share = min(1.0, (wanted - total) / slack) if slack > 1e-9 else 0.0
        return [s.aspect + share * (s.hi - s.aspect) for s in shapes]
    slack = sum(s.aspect - s.lo for s in shapes)
    share = min(1.0, (total - wanted) / slack) if slack > 1e-9 else 0.0
    return [s.aspect - share * (s.aspect - s.lo) for s in shapes]
