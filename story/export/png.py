"""PNG pages drawn with Pillow from the same page scenes as the PDF."""
from __future__ import annotations

import io
import math
import re
import zipfile
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw

from story.export.compose import ImageOp, PageScene, compose
from story.export.document import ComicDocument, PageSettings
from engine.fonts import draw_run
from story.export.shapes import Shape, TextLine
from story.export.output import ExportReport, atomic_write, write_folder

SUPERSAMPLE = 4                 # curved outlines are drawn this much larger, then reduced (anti-aliasing)
PAGE_NAME = re.compile(r"page-\d{3,}\.png")
DPI_RANGE = (36, 600)


def check_dpi(dpi: int) -> None:
    if not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
        raise ValueError(f"DPI {dpi} is out of range; use {DPI_RANGE[0]} to {DPI_RANGE[1]}.")


def page_file_names(scenes: list[PageScene]) -> list[str]:
    """page-000.png for the title page, then page-NNN.png with the printed page number."""
    return [f"page-{0 if scene.label == 'title' else int(scene.label):03d}.png" for scene in scenes]


def export_png(document: ComicDocument, settings: PageSettings, out_dir: Path | str, dpi: int = 150,
               force: bool = False) -> ExportReport:
    """Write one PNG per page into out_dir; with force, older page-NNN.png files there are replaced."""
    check_dpi(dpi)
    scenes, warnings = compose(document, settings)
    out_dir = Path(out_dir)
    paths = write_folder(out_dir, page_file_names(scenes), PAGE_NAME,
                         lambda number, tmp: render_page(scenes[number], dpi).save(tmp, "PNG", dpi=(dpi, dpi)), force)
    return ExportReport(out_dir, len(scenes), warnings, paths)


def export_png_zip(document: ComicDocument, settings: PageSettings, out_path: Path | str, dpi: int = 150,
                   force: bool = False) -> ExportReport:
    """The PNG pages in one zip (page-NNN.png), written atomically: a single download."""
    check_dpi(dpi)
    scenes, warnings = compose(document, settings)
    pages = [(name, lambda scene=scene: render_page(scene, dpi)) for scene, name in zip(scenes, page_file_names(scenes))]
    path = zip_images(Path(out_path), pages, dpi, force)
    return ExportReport(path, len(scenes), warnings, [path])


def zip_images(out_path: Path, images: list[tuple[str, Callable[[], Image.Image]]], dpi: int | None,
               force: bool) -> Path:
    """A zip of PNGs drawn one at a time (name, draw), moved into place only once complete,
    so a kill never leaves a truncated zip where the app serves it."""
    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, draw in images:
                buffer = io.BytesIO()
                draw().save(buffer, "PNG", **({"dpi": (dpi, dpi)} if dpi else {}))
                archive.writestr(name, buffer.getvalue(), compress_type=zipfile.ZIP_STORED)

    return atomic_write(out_path, write, force)


def render_page(scene: PageScene, dpi: int) -> Image.Image:
    """Draw one page scene into an RGB image at dpi."""
    scale = dpi / 72
    page = Image.new("RGB", (math.ceil(scene.width * scale), math.ceil(scene.height * scale)), "white")
    for op in scene.ops:
        if isinstance(op, ImageOp):
            _draw_image(page, op, scale)
        elif isinstance(op, Shape):
            _draw_shape(page, op, scale)
        elif isinstance(op, TextLine):
            _draw_text(page, op, scale)
    return page


def _draw_image(page: Image.Image, op: ImageOp, scale: float) -> None:
    box = [round(v * scale) for v in (op.dest.x, op.dest.y, op.dest.right, op.dest.bottom)]
    with Image.open(op.path) as source:
        image = source.convert("RGB").resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.LANCZOS,
                                             box=op.crop)
    page.paste(image, box[:2])


def _draw_text(page: Image.Image, line: TextLine, scale: float) -> None:
    draw = ImageDraw.Draw(page)
    for run in line.runs:
        draw_run(draw, run.face, run.text, (run.x, line.baseline), line.size, line.color, scale)


def _draw_shape(page: Image.Image, shape: Shape, scale: float) -> None:
    points = [(x * scale, y * scale) for x, y in shape.points]
    if _axis_rect(points) and not shape.dash:
        _draw_rect(page, points, shape, scale)
        return
    pad = shape.width * scale + 2
    x0, y0 = max(math.floor(min(p[0] for p in points) - pad), 0), max(math.floor(min(p[1] for p in points) - pad), 0)
    x1 = min(math.ceil(max(p[0] for p in points) + pad), page.width)
    y1 = min(math.ceil(max(p[1] for p in points) + pad), page.height)
    if x1 <= x0 or y1 <= y0:
        return
    big = [((x - x0) * SUPERSAMPLE, (y - y0) * SUPERSAMPLE) for x, y in points]
    if shape.fill:
        page.paste(shape.fill, (x0, y0, x1, y1), _mask((x1 - x0, y1 - y0), lambda d: d.polygon(big, fill=255)))
    if shape.stroke:
        width = max(round(shape.width * scale * SUPERSAMPLE), 1)
        dash = tuple(v * scale * SUPERSAMPLE for v in shape.dash) if shape.dash else None
        strokes = _dashes(big + big[:1], dash) if dash else [big + big[:1]]
        page.paste(shape.stroke, (x0, y0, x1, y1),
                   _mask((x1 - x0, y1 - y0), lambda d: [d.line(s, fill=255, width=width, joint="curve")
                                                        for s in strokes]))


def _mask(size: tuple[int, int], paint) -> Image.Image:
    big = Image.new("L", (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE), 0)
    paint(ImageDraw.Draw(big))
    return big.resize(size, Image.Resampling.BOX)


def _axis_rect(points: list[tuple[float, float]]) -> bool:
    return len(points) == 4 and len({round(x, 3) for x, _ in points}) == 2 and len({round(y, 3) for _, y in points}) == 2


def _draw_rect(page: Image.Image, points: list[tuple[float, float]], shape: Shape, scale: float) -> None:
    """Axis-aligned boxes need no anti-aliasing; the stroke is centred on the edge as in PDF."""
    draw = ImageDraw.Draw(page)
    left, top = min(x for x, _ in points), min(y for _, y in points)
    right, bottom = max(x for x, _ in points), max(y for _, y in points)
    if shape.fill:
        draw.rectangle((round(left), round(top), round(right) - 1, round(bottom) - 1), fill=shape.fill)
    if shape.stroke:
        half = shape.width * scale / 2
        width = max(round(shape.width * scale), 1)
        draw.rectangle((round(left - half), round(top - half), round(right + half) - 1, round(bottom + half) - 1),
                       outline=shape.stroke, width=width)


def _dashes(polyline: list[tuple[float, float]], dash: tuple[float, float]) -> list[list[tuple[float, float]]]:
    """Cut a polyline into the 'on' pieces of an (on, off) dash pattern."""
    on, off = dash
    pieces: list[list[tuple[float, float]]] = [[polyline[0]]]
    phase, drawing = 0.0, True
    for (ax, ay), (bx, by) in zip(polyline, polyline[1:]):
        length, done = math.hypot(bx - ax, by - ay), 0.0
        while length - done > 1e-9:
            step = min((on if drawing else off) - phase, length - done)
            done += step
            phase += step
            point = (ax + (bx - ax) * done / length, ay + (by - ay) * done / length)
            if drawing:
                pieces[-1].append(point)
            if phase >= (on if drawing else off) - 1e-9:
                phase, drawing = 0.0, not drawing
                if drawing:
                    pieces.append([point])
    return [piece for piece in pieces if len(piece) > 1]
