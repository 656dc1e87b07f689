"""Composes a document into page scenes: display lists that every renderer draws as is.

A scene holds images, shapes and text lines in page points (origin top-left); pdf.py and
png.py only translate these operations, so both outputs come from one computation.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Union

from PIL import Image

from story.export.document import ComicDocument, ComicPanel, PageSettings
from story.export.layout import PanelFrame, Rect, content_rect, layout_document, page_size_points, panel_shape, place_image
from story.export.lettering import fit_text, letter_panel, lettering_area, placeholder, set_text
from story.export.regions import Cast, character_grids, keep_box
from story.export.shapes import WHITE, Shape, TextLine

TITLE_SIZE, TITLE_MIN, AUTHOR_SIZE, NUMBER_SIZE = 36.0, 14.0, 16.0, 9.0
DRAFT_INK = (200, 32, 44)
MARK_MARGIN = 14.0      # a bottom margin narrower than this (points) has no room for page marks
SAFE_INSET = 12.0       # marks drawn on the art stay this far inside the trim (print safe area)


@dataclass(frozen=True)
class ImageOp:
    """Draw the crop box (pixels of the file) of an image file into dest (points); bounds is
    the art's box in the file, which a crop never leaves."""

    path: Path
    crop: tuple[float, float, float, float]
    dest: Rect
    bounds: tuple[float, float, float, float]


Op = Union[ImageOp, Shape, TextLine]


@dataclass
class PageScene:
    """One page: its size in points (bleed included), a label, what to draw, and its trim box."""

    width: float
    height: float
    label: str
    ops: list[Op] = field(default_factory=list)
    trim: Rect | None = None


@dataclass(frozen=True)
class Art:
    """A panel's picture: the file, the art's size and offset inside it (pixels), its characters."""

    path: Path
    size: tuple[int, int]
    offset: tuple[float, float]
    grids: dict

    @property
    def keep(self) -> tuple[float, float, float, float] | None:
        return keep_box(self.grids)


def compose(document: ComicDocument, settings: PageSettings) -> tuple[list[PageScene], list[str]]:
    """All pages of the export (title page first when enabled) and the warnings met."""
    warnings: list[str] = []
    arts = {panel.index: art for panel in document.panels if (art := _art(panel, warnings)) is not None}
    shapes = {i: replace(panel_shape(p, arts[i].size, arts[i].keep, settings.placement),
                         text_area=lettering_area(p, settings))
              for p in document.panels if (i := p.index) in arts}
    width, height = page_size_points(settings.page_size)
    scenes = [_title_page(document, settings, warnings)] if settings.title_page else []
    for page in layout_document(document, settings, shapes):
        scene = PageScene(width, height, str(page.number))
        for frame in page.frames:
            scene.ops += _panel_ops(frame, arts.get(frame.panel.index), settings, warnings)
        scene.ops += _page_marks(page.number, any(f.panel.draft for f in page.frames), width, height, settings)
        scenes.append(scene)
    return [with_bleed(scene, settings.bleed) for scene in scenes], warnings


def compose_strip(document: ComicDocument, settings: PageSettings, width: float) -> tuple[list[PageScene], list[str]]:
    """The story as one vertical strip (webtoon): a scene per panel, `width` points wide, the
    panel whole at full width less the gutters, with a gutter below it."""
    warnings: list[str] = []
    gutter = settings.gutter
    scenes = []
    for panel in document.panels:
        art = _art(panel, warnings)
        inner = width - 2 * gutter
        height = inner * art.size[1] / art.size[0] if art else inner * 0.75
        frame = PanelFrame(panel, Rect(gutter, 0, inner, height))
        scenes.append(PageScene(width, height + gutter, str(panel.index), _panel_ops(frame, art, settings, warnings)))
    return scenes, warnings


def _art(panel: ComicPanel, warnings: list[str]) -> Art | None:
    if panel.image_path is None:
        warnings.append(f"Panel {panel.index} has no render; a placeholder with its prompt was drawn.")
        return None
    try:
        with Image.open(panel.image_path) as image:
            width, height = image.size
    except OSError as error:
        warnings.append(f"Panel {panel.index}: its image {panel.image_path} cannot be read ({error}); "
                        "a placeholder was drawn.")
        return None
    x0, y0, x1, y1 = panel.art_box or (0, 0, 1, 1)
    size = (max(1, round((x1 - x0) * width)), max(1, round((y1 - y0) * height)))
    return Art(panel.image_path, size, (x0 * width, y0 * height), character_grids(panel))


def _panel_ops(frame: PanelFrame, art: Art | None, settings: PageSettings, warnings: list[str]) -> list[Op]:
    panel, rect = frame.panel, frame.rect
    if art is None:
        backdrop = placeholder(panel, rect, settings)
        ops: list[Op] = [*backdrop.shapes, *backdrop.lines]
        cast = Cast(character_grids(panel), rect)
    else:
        mode = "fill" if settings.placement == "fill" or panel.hint else "fit"
        crop, dest = place_image(art.size, rect, mode, art.keep)
        ox, oy = art.offset
        bounds = (ox, oy, ox + art.size[0], oy + art.size[1])
        ops = [ImageOp(art.path, (crop[0] + ox, crop[1] + oy, crop[2] + ox, crop[3] + oy), dest, bounds)]
        sx, sy = dest.w / (crop[2] - crop[0]), dest.h / (crop[3] - crop[1])
        whole = Rect(dest.x - crop[0] * sx, dest.y - crop[1] * sy, art.size[0] * sx, art.size[1] * sy)
        cast = Cast(art.grids, whole).within(dest)
        rect = dest
    if settings.border > 0:
        ops.append(Shape(((rect.x, rect.y), (rect.right, rect.y), (rect.right, rect.bottom), (rect.x, rect.bottom)),
                         fill=None, width=settings.border))
    lettering = letter_panel(panel, rect, cast, settings)
    warnings += lettering.warnings
    return ops + lettering.shapes + lettering.lines


def _page_marks(number: int, draft: bool, width: float, height: float, settings: PageSettings) -> list[Op]:
    """The page number in the bottom margin, and a DRAFT label on pages with drafts: beside the
    number, or, when the margin is too narrow for text, as a red tag inside the page's safe area."""
    band = Rect(0, height - settings.margin, width, settings.margin)
    roomy = settings.margin >= MARK_MARGIN
    ops: list[Op] = []
    if settings.page_numbers and roomy:
        ops += _centred(str(number), "caption", band, NUMBER_SIZE, NUMBER_SIZE)
    if draft and roomy:
        label = Rect(settings.margin, band.y, width / 3, band.h)
        ops += set_text(fit_text("DRAFT", "title", label.w, label.h, NUMBER_SIZE + 1, NUMBER_SIZE), "title",
                        label, align="left", color=DRAFT_INK)
    elif draft:
        fitted = fit_text("DRAFT", "title", width / 3, NUMBER_SIZE * 2, NUMBER_SIZE + 1, NUMBER_SIZE)
        tag = Rect(SAFE_INSET, height - SAFE_INSET - fitted.height - 4, fitted.width + 8, fitted.height + 4)
        ops.append(Shape(((tag.x, tag.y), (tag.right, tag.y), (tag.right, tag.bottom), (tag.x, tag.bottom)),
                         fill=DRAFT_INK, stroke=None))
        ops += set_text(fitted, "title", Rect(tag.x + 4, tag.y + 2, fitted.width, fitted.height), color=WHITE)
    return ops


def with_bleed(scene: PageScene, bleed: float) -> PageScene:
    """The scene on a sheet `bleed` larger on every side; art touching the trim runs into the bleed."""
    trim = Rect(bleed, bleed, scene.width, scene.height)
    if bleed <= 0:
        return PageScene(scene.width, scene.height, scene.label, scene.ops, trim)
    ops = [_shifted(op, bleed, trim) for op in scene.ops]
    return PageScene(scene.width + 2 * bleed, scene.height + 2 * bleed, scene.label, ops, trim)


def _shifted(op: Op, bleed: float, trim: Rect) -> Op:
    if isinstance(op, ImageOp):
        return _bled(replace(op, dest=Rect(op.dest.x + bleed, op.dest.y + bleed, op.dest.w, op.dest.h)), bleed, trim)
    if isinstance(op, Shape):
        return replace(op, points=tuple((x + bleed, y + bleed) for x, y in op.points))
    return replace(op, baseline=op.baseline + bleed,
                   runs=tuple(replace(run, x=run.x + bleed) for run in op.runs))


def _bled(op: ImageOp, bleed: float, trim: Rect) -> ImageOp:
    """An image whose edge lies on the trim grows past it by the bleed (taking more of the
    picture where the crop left some, stretching its edge otherwise)."""
    d, near = op.dest, 0.5
    grow = (bleed if abs(d.x - trim.x) < near else 0.0, bleed if abs(d.y - trim.y) < near else 0.0,
            bleed if abs(d.right - trim.right) < near else 0.0, bleed if abs(d.bottom - trim.bottom) < near else 0.0)
    if not any(grow):
        return op
    sx, sy = (op.crop[2] - op.crop[0]) / d.w, (op.crop[3] - op.crop[1]) / d.h
    b = op.bounds
    crop = (max(op.crop[0] - grow[0] * sx, b[0]), max(op.crop[1] - grow[1] * sy, b[1]),
            min(op.crop[2] + grow[2] * sx, b[2]), min(op.crop[3] + grow[3] * sy, b[3]))
    dest = Rect(d.x - grow[0], d.y - grow[1], d.w + grow[0] + grow[2], d.h + grow[1] + grow[3])
    return replace(op, crop=crop, dest=dest)


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
