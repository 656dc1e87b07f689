"""The page-layout model shared by every output: pages -> panel frames, in points.

Coordinates have their origin at the top-left corner of the page, y pointing down.
PDF and PNG renderers convert from this one model, so their pages match.
"""
from __future__ import annotations

import re
from itertools import islice
from dataclasses import dataclass
from typing import Mapping, Sequence

from story.export.document import ComicDocument, ComicPanel, PageSettings

POINTS_PER = {"pt": 1.0, "in": 72.0, "mm": 72.0 / 25.4}
PAGE_SIZES = {
    "a4": (210 * POINTS_PER["mm"], 297 * POINTS_PER["mm"]),
    "letter": (8.5 * 72.0, 11 * 72.0),
    "us-comic": (6.625 * 72.0, 10.25 * 72.0),
}
GRIDS = {  # rows of a page, each the number of panels side by side
    "single": (1,),
    "2-rows": (1, 1),
    "3-rows": (1, 1, 1),
    "2x2": (2, 2),
    "2x3": (2, 2, 2),
}
AUTO_ROWS_PER_PAGE = 3      # the row height "auto" aims for: a third of the page
AUTO_MAX_PER_ROW = 3
AUTO_MIN_SCALE = 0.85       # rows may shrink this much to fit one more on a page...
AUTO_MAX_SCALE = 1.4        # ...or grow this much to fill the page
WIDE_ASPECT, TALL_ASPECT = 1.8, 0.62


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class PanelFrame:
    panel: ComicPanel
    rect: Rect


@dataclass(frozen=True)
class PageLayout:
    """One comic page; frames are listed in reading order."""

    number: int
    frames: tuple[PanelFrame, ...]


MAX_PAGE_SIDE_PT = 50 * 72  # A0 is 46.8 inches tall; larger pages exhaust memory as PNG


def page_size_points(spec: str) -> tuple[float, float]:
    """Page size from a preset name or "WxH<unit>" (unit mm, in or pt), in points."""
    key = spec.strip().lower()
    if key in PAGE_SIZES:
        return PAGE_SIZES[key]
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*x\s*(\d+(?:\.\d+)?)\s*(mm|in|pt)", key)
    if not match:
        raise ValueError(f"Unknown page size {spec!r}: use {', '.join(PAGE_SIZES)} or WxH with a unit, "
                         "e.g. 148x210mm or 6x9in.")
    width, height = (float(match[i]) * POINTS_PER[match[3]] for i in (1, 2))
    if width < 144 or height < 144:
        raise ValueError(f"Page size {spec!r} is too small; pages must be at least 2 x 2 inches.")
    if max(width, height) > MAX_PAGE_SIDE_PT:
        raise ValueError(f"Page size {spec!r} is too large; a page side may be at most 50 inches.")
    return width, height


def content_rect(settings: PageSettings) -> Rect:
    """The page area inside the margins."""
    width, height = page_size_points(settings.page_size)
    m = settings.margin
    if width - 2 * m < 72 or height - 2 * m < 72:
        raise ValueError(f"Margins of {m} pt leave no room for panels on a {settings.page_size} page.")
    return Rect(m, m, width - 2 * m, height - 2 * m)


def panel_aspect(panel: ComicPanel, size: tuple[int, int] | None) -> float:
    """Width/height the auto layout gives a panel: its image's, bent by its hint."""
    aspect = min(max(size[0] / size[1], 0.4), 3.0) if size else 1.0
    if panel.hint == "wide":
        return max(aspect, WIDE_ASPECT)
    if panel.hint == "tall":
        return min(aspect, TALL_ASPECT)
    return aspect


def layout_document(document: ComicDocument, settings: PageSettings,
                    image_sizes: Mapping[int, tuple[int, int]]) -> list[PageLayout]:
    """Lay every panel out on pages; image_sizes (panel index -> pixels) feed "auto"."""
    if not document.panels:
        raise ValueError("The story has no panels to export.")
    box = content_rect(settings)
    panels = list(document.panels)
    if settings.layout == "splash-first":
        pages = [[[(panels[0], box.w, box.h)]]] + _auto_pages(panels[1:], image_sizes, box, settings.gutter)
    elif settings.layout == "auto":
        pages = _auto_pages(panels, image_sizes, box, settings.gutter)
    else:
        pages = _grid_pages(panels, GRIDS[settings.layout], box, settings.gutter)
    page_width = page_size_points(settings.page_size)[0]
    rtl = settings.reading_direction == "rtl"
    return [PageLayout(number, tuple(_place_rows(rows, box, settings.gutter, page_width, rtl)))
            for number, rows in enumerate(pages, start=1)]


Row = list[tuple[ComicPanel, float, float]]  # (panel, width, height) side by side


def _grid_pages(panels: Sequence[ComicPanel], grid: tuple[int, ...], box: Rect, gutter: float) -> list[list[Row]]:
    row_h = (box.h - gutter * (len(grid) - 1)) / len(grid)
    per_page = sum(grid)
    pages = []
    for start in range(0, len(panels), per_page):
        chunk = iter(panels[start:start + per_page])
        rows = []
        for columns in grid:
            cell_w = (box.w - gutter * (columns - 1)) / columns
            row = [(panel, cell_w, row_h) for panel in islice(chunk, columns)]
            if row:
                rows.append(row)
        pages.append(rows)
    return pages


def _auto_rows(panels: Sequence[ComicPanel], sizes: Mapping[int, tuple[int, int]],
               width: float, gutter: float, target_h: float) -> list[list[tuple[ComicPanel, float]]]:
    """Group panels into rows (justified by aspect ratio) whose height is nearest the target;
    a "wide" panel gets a row alone."""
    rows: list[list[tuple[ComicPanel, float]]] = []
    current: list[tuple[ComicPanel, float]] = []
    for panel in panels:
        aspect = panel_aspect(panel, sizes.get(panel.index))
        if panel.hint == "wide":
            rows += [current] if current else []
            rows.append([(panel, aspect)])
            current = []
            continue
        if current and _row_height(current + [(panel, aspect)], width, gutter) < target_h and (
            target_h - _row_height(current + [(panel, aspect)], width, gutter)
            > _row_height(current, width, gutter) - target_h
        ):  # the row is nearer the target height without this panel: start a new one
            rows.append(current)
            current = []
        current.append((panel, aspect))
        if _row_height(current, width, gutter) <= target_h or len(current) == AUTO_MAX_PER_ROW:
            rows.append(current)
            current = []
    return rows + ([current] if current else [])


def _row_height(row: list[tuple[ComicPanel, float]], width: float, gutter: float) -> float:
    return (width - gutter * (len(row) - 1)) / sum(aspect for _, aspect in row)


def _auto_pages(panels: Sequence[ComicPanel], sizes: Mapping[int, tuple[int, int]],
                box: Rect, gutter: float) -> list[list[Row]]:
    """Fill pages with justified rows, scaling row heights so each page is filled."""
    target_h = (box.h - gutter * (AUTO_ROWS_PER_PAGE - 1)) / AUTO_ROWS_PER_PAGE
    rows = _auto_rows(panels, sizes, box.w, gutter, target_h)
    heights = [_row_height(row, box.w, gutter) for row in rows]
    widths = [box.w] * len(rows)
    if rows and heights[-1] > target_h and rows[-1][0][0].hint != "wide":
        # a last row too short to fill the width keeps the usual row height instead of growing
        heights[-1] = target_h
        widths[-1] = target_h * sum(aspect for _, aspect in rows[-1]) + gutter * (len(rows[-1]) - 1)
    pages, start = [], 0
    while start < len(rows):
        end = start + 1
        while end < len(rows) and _stack(heights[start:end + 1], gutter) <= box.h / AUTO_MIN_SCALE:
            end += 1
        room = box.h - gutter * (end - start - 1)
        scale = min(room / sum(heights[start:end]), AUTO_MAX_SCALE)
        pages.append([_justify(rows[i], widths[i], gutter, heights[i] * scale) for i in range(start, end)])
        start = end
    return pages


def _stack(heights: Sequence[float], gutter: float) -> float:
    return sum(heights) + gutter * (len(heights) - 1)


def _justify(row: list[tuple[ComicPanel, float]], width: float, gutter: float, height: float) -> Row:
    free = width - gutter * (len(row) - 1)
    total = sum(aspect for _, aspect in row)
    return [(panel, free * aspect / total, height) for panel, aspect in row]


def _place_rows(rows: list[Row], box: Rect, gutter: float, page_width: float, rtl: bool) -> list[PanelFrame]:
    """Turn rows of sizes into frames; right-to-left mirrors them across the page."""
    frames, y = [], box.y
    for row in rows:
        x = box.x
        for panel, w, h in row:
            rect = Rect(page_width - x - w if rtl else x, y, w, h)
            frames.append(PanelFrame(panel, rect))
            x += w + gutter
        y += max(h for _, _, h in row) + gutter
    return frames


def place_image(size: tuple[int, int], frame: Rect, mode: str) -> tuple[tuple[float, float, float, float], Rect]:
    """Where an image of size (pixels) goes in a frame: (crop box in pixels, destination).

    "fill" crops the middle of the image to the frame's aspect and covers the frame;
    "fit" keeps the whole image and centres it inside the frame.
    """
    width, height = size
    scale = (max if mode == "fill" else min)(frame.w / width, frame.h / height)
    if mode == "fit":
        w, h = width * scale, height * scale
        return (0, 0, width, height), Rect(frame.x + (frame.w - w) / 2, frame.y + (frame.h - h) / 2, w, h)
    crop_w, crop_h = frame.w / scale, frame.h / scale
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    return (left, top, left + crop_w, top + crop_h), frame
