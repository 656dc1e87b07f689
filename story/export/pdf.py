"""Comic PDF through reportlab's canvas: embedded TrueType subsets, selectable text.

Every font in the file is embedded, reportlab's own initial font included (it is set to a
shipped face), which print preflight asks for. With `print_ready`, pages carry their bleed,
a TrimBox and a BleedBox, and every image is resampled to exactly 300 dpi as placed.
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path

from PIL import Image
from reportlab import rl_config
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from story.export.compose import ImageOp, PageScene, compose
from story.export.document import ComicDocument, PageSettings
from engine.fonts import register_fonts
from story.export.shapes import Shape, TextLine
from story.export.output import ExportReport, atomic_write

IMAGE_DPI = 300        # images are downsampled to at most this resolution on the page (exactly it for print)
INITIAL_FONT = "NotoSans"
JPEG_QUALITY = 90
CREATOR = "AnyStory Studio"


def export_pdf(document: ComicDocument, settings: PageSettings, out_path: Path | str,
               force: bool = False, print_ready: bool = False) -> ExportReport:
    """Write the comic as a PDF at out_path; warnings list text that had to be cut, etc.
    print_ready: a printer's PDF (bleed from settings.bleed, trim and bleed boxes, 300 dpi)."""
    scenes, warnings = compose(document, settings)
    path = atomic_write(Path(out_path), lambda tmp: write_scenes(scenes, document, settings, tmp, print_ready), force)
    return ExportReport(path, len(scenes), warnings, [path])


@contextmanager
def _binary_streams():
    """Skip reportlab's ASCII85 stream encoding (pure Python here, most of the export time)."""
    saved, rl_config.useA85 = rl_config.useA85, 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


def write_scenes(scenes: list[PageScene], document: ComicDocument, settings: PageSettings, path: Path,
                 print_ready: bool = False) -> None:
    """Draw composed page scenes into a PDF file at path (export_pdf writes through this)."""
    register_fonts()
    with _binary_streams():
        _write_pages(scenes, document, settings, path, print_ready)


def _write_pages(scenes: list[PageScene], document: ComicDocument, settings: PageSettings, path: Path,
                 print_ready: bool) -> None:
    canvas = Canvas(str(path), pagesize=(scenes[0].width, scenes[0].height), pageCompression=1,
                    initialFontName=INITIAL_FONT)
    canvas.setTitle(document.title)
    canvas.setAuthor(document.author)
    canvas.setCreator(CREATOR)
    canvas.setSubject("Comic")
    if settings.reading_direction == "rtl":
        canvas.setViewerPreference("Direction", "R2L")
    for scene in scenes:
        if print_ready and scene.trim is not None:
            trim = scene.trim
            canvas.setTrimBox((trim.x, scene.height - trim.bottom, trim.right, scene.height - trim.y))
            canvas.setBleedBox((0, 0, scene.width, scene.height))
        for op in scene.ops:
            _draw(canvas, op, scene.height, print_ready)
        canvas.showPage()
    canvas.save()


def _draw(canvas: Canvas, op: object, page_h: float, exact_dpi: bool) -> None:
    if isinstance(op, ImageOp):
        _draw_image(canvas, op, page_h, exact_dpi)
    elif isinstance(op, Shape):
        _draw_shape(canvas, op, page_h)
    elif isinstance(op, TextLine):
        _draw_line(canvas, op, page_h)


def _draw_line(canvas: Canvas, line: TextLine, page_h: float) -> None:
    """One text object per line keeps mixed-font runs together for copy and search."""
    text = canvas.beginText(line.runs[0].x, page_h - line.baseline)
    text.setFillColorRGB(*(c / 255 for c in line.color))
    for run in line.runs:
        text.setFont(run.face, line.size)
        text.textOut(run.text)
    canvas.drawText(text)


def _draw_shape(canvas: Canvas, shape: Shape, page_h: float) -> None:
    path = canvas.beginPath()
    (x0, y0), *rest = shape.points
    path.moveTo(x0, page_h - y0)
    for x, y in rest:
        path.lineTo(x, page_h - y)
    path.close()
    canvas.saveState()
    if shape.fill:
        canvas.setFillColorRGB(*(c / 255 for c in shape.fill))
    if shape.stroke:
        canvas.setStrokeColorRGB(*(c / 255 for c in shape.stroke))
        canvas.setLineWidth(shape.width)
        canvas.setLineJoin(1)
        if shape.dash:
            canvas.setDash(list(shape.dash))
    canvas.drawPath(path, stroke=1 if shape.stroke else 0, fill=1 if shape.fill else 0)
    canvas.restoreState()


def _draw_image(canvas: Canvas, op: ImageOp, page_h: float, exact_dpi: bool) -> None:
    """Crop and resample with Pillow, then embed as JPEG (renders compress badly as Flate)."""
    with Image.open(op.path) as source:
        image = source.convert("RGB").crop(tuple(round(v) for v in op.crop))
    limit = (round(op.dest.w / 72 * IMAGE_DPI), round(op.dest.h / 72 * IMAGE_DPI))
    if exact_dpi or image.width > limit[0] or image.height > limit[1]:
        image = image.resize(limit, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    buffer.seek(0)
    canvas.drawImage(ImageReader(buffer), op.dest.x, page_h - op.dest.bottom, op.dest.w, op.dest.h)
