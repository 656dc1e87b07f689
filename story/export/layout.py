"""The page-layout model shared by every output: pages -> panel frames, in points.

Coordinates have their origin at the top-left corner of the page, y pointing down.
PDF and PNG renderers convert from this one model, so their pages match.
"""
from __future__ import annotations

import re
from itertools import islice
from dataclasses import dataclass
from typing import Mapping, Sequence

from story.export.document import Box, ComicDocument, ComicPanel, PageSettings
from story.export.page_fill import PanelShape, Row, auto_pages

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
WIDE_ASPECT, TALL_ASPECT = 1.8, 0.62
MAX_CROP = 0.4              # "fill" may cut up to this share of a side, never through a character
PLACEHOLDER = PanelShape(1.0, 0.6, 1.6)


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


def panel_shape(panel: ComicPanel, size: tuple[int, int], keep: Box | None, placement: str) -> PanelShape:
    """The frames a panel's art may take: its own aspect; with "fill", as much narrower or
    wider as cropping allows without cutting `keep` (the characters, normalised); a hint
    ("wide", "tall") is the writer asking for that shape, again never through a character.
    A panel with characters of unknown place (panel.unplaced) is only cropped on a hint."""
    aspect = min(max(size[0] / size[1], 0.4), 3.0)
    kx0, ky0, kx1, ky1 = keep or (0.5, 0.5, 0.5, 0.5)
    narrowest = aspect * max(kx1 - kx0, 1 - MAX_CROP)
    widest = aspect / max(ky1 - ky0, 1 - MAX_CROP)
    if panel.hint == "wide":
        wide = min(max(aspect, WIDE_ASPECT), aspect / max(ky1 - ky0, 0.3))
        return PanelShape(wide, wide, wide)
    if panel.hint == "tall":
        tall = max(min(aspect, TALL_ASPECT), aspect * max(kx1 - kx0, 0.3))
        return PanelShape(tall, tall, tall)
    if placement == "fill" and not panel.unplaced:
        return PanelShape(aspect, narrowest, widest)
    return PanelShape(aspect, aspect, aspect)


def layout_document(document: ComicDocument, settings: PageSettings,
                    shapes: Mapping[int, PanelShape]) -> list[PageLayout]:
    """Lay every panel out on pages; shapes (panel index -> PanelShape) feed "auto"."""
    if not document.panels:
        raise ValueError("The story has no panels to export.")
    box = content_rect(settings)
    panels = list(document.panels)
    shapes = {p.index: shapes.get(p.index, PLACEHOLDER) for p in panels}
    if settings.layout == "splash-first":
        pages = [[[(panels[0], box.w, box.h)]]] + _auto(panels[1:], shapes, box, settings.gutter)
    elif settings.layout == "auto":
        pages = _auto(panels, shapes, box, settings.gutter)
    else:
        pages = _grid_pages(panels, GRIDS[settings.layout], box, settings.gutter)
    page_width = page_size_points(settings.page_size)[0]
    rtl = settings.reading_direction == "rtl"
    return [PageLayout(number, tuple(_place_rows(rows, box, settings.gutter, page_width, rtl)))
            for number, rows in enumerate(pages, start=1)]


def _auto(panels: Sequence[ComicPanel], shapes: Mapping[int, PanelShape], box: Rect, gutter: float) -> list[list[Row]]:
    return auto_pages(panels, shapes, box.w, box.h, gutter) if panels else []


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


def _place_rows(rows: list[Row], box: Rect, gutter: float, page_width: float, rtl: bool) -> list[PanelFrame]:
    """Turn rows of sizes into frames; right-to-left mirrors them across the page."""
    frames, y = [], box.y
    for row in rows:
        x = box.x + (box.w - sum(w for _, w, _ in row) - gutter * (len(row) - 1)) / 2  # centre narrower rows
        for panel, w, h in row:
            rect = Rect(page_width - x - w if rtl else x, y, w, h)
            frames.append(PanelFrame(panel, rect))
            x += w + gutter
        y += max(h for _, _, h in row) + gutter
    return frames


def place_image(size: tuple[int, int], frame: Rect, mode: str,
                keep: Box | None = None) -> tuple[tuple[float, float, float, float], Rect]:
    """Where an image of size (pixels) goes in a frame: (crop box in pixels, destination).

    "fill" covers the frame, cropping the image's middle but shifting the crop so `keep`
    (the characters, normalised to the image) stays whole; when keep cannot fit, it crops
    less and the image stops short of the frame. "fit" shows the whole image, centred.
    """
    width, height = size
    if mode == "fit":
        scale = min(frame.w / width, frame.h / height)
        w, h = width * scale, height * scale
        return (0, 0, width, height), Rect(frame.x + (frame.w - w) / 2, frame.y + (frame.h - h) / 2, w, h)
    kx0, ky0, kx1, ky1 = keep or (0.5, 0.5, 0.5, 0.5)
    scale = max(frame.w / width, frame.h / height)
    scale = min(scale, frame.w / max((kx1 - kx0) * width, 1e-9), frame.h / max((ky1 - ky0) * height, 1e-9))
    crop_w, crop_h = min(width, frame.w / scale), min(height, frame.h / scale)
    left = _slide((width - crop_w) / 2, crop_w, kx0 * width, kx1 * width, width)
    top = _slide((height - crop_h) / 2, crop_h, ky0 * height, ky1 * height, height)
    w, h = crop_w * scale, crop_h * scale
    dest = Rect(frame.x + (frame.w - w) / 2, frame.y + (frame.h - h) / 2, w, h)
    return (left, top, left + crop_w, top + crop_h), dest


def _slide(start: float, length: float, keep0: float, keep1: float, total: float) -> float:
    """Move a window [start, start + length) the least so it holds [keep0, keep1], inside [0, total]."""
    start = min(max(start, keep1 - length), keep0)
    return min(max(start, 0.0), total - length)
