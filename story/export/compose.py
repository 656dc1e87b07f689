"""Composes a document into page scenes: display lists that every renderer draws as is.

A scene holds images, shapes and text lines in page points (origin top-left); pdf.py and
png.py only translate these operations, so both outputs come from one computation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from PIL import Image

from story.export.document import ComicDocument, ComicPanel, PageSettings
from story.export.layout import PanelFrame, Rect, content_rect, layout_document, page_size_points, place_image
from story.export.lettering import Shape, TextLine, fit_text, letter_panel, placeholder, set_text

TITLE_SIZE, TITLE_MIN, AUTHOR_SIZE, NUMBER_SIZE = 36.0, 14.0, 16.0, 9.0


@dataclass(frozen=True)
class ImageOp:
    """Draw the crop box (pixels) of an image file into dest (points)."""

    path: Path
    crop: tuple[float, float, float, float]
    dest: Rect


Op = Union[ImageOp, Shape, TextLine]


@dataclass
class PageScene:
    width: float
    height: float
    label: str
    ops: list[Op] = field(default_factory=list)

    @property
    def text_lines(self) -> list[TextLine]:
        return [op for op in self.ops if isinstance(op, TextLine)]


def compose(document: ComicDocument, settings: PageSettings) -> tuple[list[PageScene], list[str]]:
    """All pages of the export (title page first when enabled) and the warnings met."""
    warnings: list[str] = []
    sizes = {panel.index: size for panel in document.panels
             if (size := _image_size(panel, warnings)) is not None}
    width, height = page_size_points(settings.page_size)
    scenes = [_title_page(document, settings, warnings)] if settings.title_page else []
    for page in layout_document(document, settings, sizes):
        scene = PageScene(width, height, str(page.number))
        for frame in page.frames:
            scene.ops += _panel_ops(frame, sizes.get(frame.panel.index), settings, warnings)
        if settings.page_numbers:
            scene.ops += _centred(str(page.number), "caption", Rect(0, height - settings.margin, width,
                                                                    settings.margin), NUMBER_SIZE, NUMBER_SIZE)
        scenes.append(scene)
    return scenes, warnings


def _image_size(panel: ComicPanel, warnings: list[str]) -> tuple[int, int] | None:
    if panel.image_path is None:
        warnings.append(f"Panel {panel.index} has no render; a placeholder with its prompt was drawn.")
        return None
    try:
        with Image.open(panel.image_path) as image:
            return image.size
    except OSError as error:
        warnings.append(f"Panel {panel.index}: its image {panel.image_path} cannot be read ({error}); "
                        "a placeholder was drawn.")
        return None


def _panel_ops(frame: PanelFrame, size: tuple[int, int] | None, settings: PageSettings,
               warnings: list[str]) -> list[Op]:
    panel, rect = frame.panel, frame.rect
    if size is None:
        backdrop = placeholder(panel, rect, settings)
        ops: list[Op] = [*backdrop.shapes, *backdrop.lines]
        speakers = {name: _visible(_map_box(box, (0, 0, 1, 1), rect), rect) for name, box in panel.speaker_boxes.items()}
    else:
        crop, dest = place_image(size, rect, settings.placement)
        ops = [ImageOp(panel.image_path, crop, dest)]
        pixel_crop = (crop[0] / size[0], crop[1] / size[1], crop[2] / size[0], crop[3] / size[1])
        speakers = {name: _visible(_map_box(box, pixel_crop, dest), rect) for name, box in panel.speaker_boxes.items()}
    if settings.border > 0:
        ops.append(Shape(((rect.x, rect.y), (rect.right, rect.y), (rect.right, rect.bottom), (rect.x, rect.bottom)),
                         fill=None, width=settings.border))
    lettering = letter_panel(panel, rect, {k: v for k, v in speakers.items() if v}, settings)
    warnings += lettering.warnings
    return ops + lettering.shapes + lettering.lines


def _map_box(box: tuple[float, float, float, float], crop: tuple[float, float, float, float], dest: Rect) -> Rect:
    """A box normalised to the whole image, in page points once the image is cropped into dest."""
    sx, sy = dest.w / (crop[2] - crop[0]), dest.h / (crop[3] - crop[1])
    x0, y0 = dest.x + (box[0] - crop[0]) * sx, dest.y + (box[1] - crop[1]) * sy
    return Rect(x0, y0, (box[2] - box[0]) * sx, (box[3] - box[1]) * sy)


def _visible(box: Rect, frame: Rect) -> Rect | None:
    """The part of box inside the frame, or None when the character is cropped away."""
    x0, y0 = max(box.x, frame.x), max(box.y, frame.y)
    x1, y1 = min(box.right, frame.right), min(box.bottom, frame.bottom)
    return Rect(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def _centred(text: str, role: str, box: Rect, size: float, min_size: float,
             warnings: list[str] | None = None) -> list[TextLine]:
    fitted = fit_text(text, role, box.w, box.h, size, min_size)
    if fitted.cut and warnings is not None:
        warnings.append(f"The title page text {text!r} does not fit even at {min_size:g} pt; it was cut.")
    return set_text(fitted, role, box)


def _title_page(document: ComicDocument, settings: PageSettings, warnings: list[str]) -> PageScene:
    width, height = page_size_points(settings.page_size)
    area = content_rect(settings)
    scene = PageScene(width, height, "title")
    scene.ops += _centred(document.title or "Untitled", "title", Rect(area.x, area.y + area.h * 0.15, area.w,
                                                                      area.h * 0.35),
                          TITLE_SIZE, TITLE_MIN, warnings)
    if document.author:
        scene.ops += _centred(document.author, "caption", Rect(area.x, area.y + area.h * 0.52, area.w, area.h * 0.1),
                              AUTHOR_SIZE, settings.min_font_size, warnings)
    return scene
