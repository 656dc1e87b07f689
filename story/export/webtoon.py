"""Webtoon: the panels stacked in one vertical strip with gutters, lettering included,
sliced into PNG images at most 800 px wide and 1280 px tall, as vertical-scroll sites take.

Slices end in a gutter between panels where they can; a panel taller than a slice is cut
across. Files are strip-001.png, strip-002.png... in the output folder.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from PIL import Image

from story.export.compose import compose_strip
from story.export.document import ComicDocument, PageSettings
from story.export.output import ExportReport, write_folder
from story.export.png import render_page, zip_images

STRIP_WIDTH_PX, SLICE_HEIGHT_PX = 800, 1280
STRIP_WIDTH_PT = 360.0        # the strip's width as lettered: 5 inches, so text reads like print on a phone
SLICE_NAME = re.compile(r"strip-\d{3,}\.png")


def export_webtoon(document: ComicDocument, settings: PageSettings, out_dir: Path | str, dpi: int = 0,
                   force: bool = False) -> ExportReport:
    """Write the strip's slices into out_dir (dpi is ignored: the width is fixed at 800 px)."""
    slices, warnings = strip_slices(document, settings)
    out_dir = Path(out_dir)
    names = [f"strip-{number:03d}.png" for number in range(1, len(slices) + 1)]
    paths = write_folder(out_dir, names, SLICE_NAME, lambda number, tmp: slices[number].save(tmp, "PNG"), force)
    return ExportReport(out_dir, len(paths), warnings, paths)


def export_webtoon_zip(document: ComicDocument, settings: PageSettings, out_path: Path | str,
                       force: bool = False) -> ExportReport:
    """The slices in one zip (strip-NNN.png), written atomically: a single download."""
    slices, warnings = strip_slices(document, settings)
    images = [(f"strip-{number:03d}.png", lambda image=image: image) for number, image in enumerate(slices, start=1)]
    path = zip_images(Path(out_path), images, None, force)
    return ExportReport(path, len(slices), warnings, [path])


def strip_slices(document: ComicDocument, settings: PageSettings) -> tuple[list[Image.Image], list[str]]:
    """The lettered strip cut into slices, and the warnings met."""
    scenes, warnings = compose_strip(document, settings, STRIP_WIDTH_PT)
    scale_dpi = STRIP_WIDTH_PX / STRIP_WIDTH_PT * 72
    return list(slice_strip([_exact_width(render_page(scene, scale_dpi)) for scene in scenes])), warnings


def _exact_width(image: Image.Image) -> Image.Image:
    return image if image.width == STRIP_WIDTH_PX else image.crop((0, 0, STRIP_WIDTH_PX, image.height))


def slice_strip(panels: list[Image.Image], limit: int = SLICE_HEIGHT_PX) -> Iterator[Image.Image]:
    """Yield slices at most `limit` tall: whole panels together where they fit, else cut across."""
    current: list[Image.Image] = []
    for panel in panels:
        while panel.height > limit:
            if current:
                yield _stack(current)
                current = []
            yield panel.crop((0, 0, panel.width, limit))
            panel = panel.crop((0, limit, panel.width, panel.height))
        if current and sum(p.height for p in current) + panel.height > limit:
            yield _stack(current)
            current = []
        current.append(panel)
    if current:
        yield _stack(current)


def _stack(parts: list[Image.Image]) -> Image.Image:
    strip = Image.new("RGB", (parts[0].width, sum(p.height for p in parts)), "white")
    y = 0
    for part in parts:
        strip.paste(part, (0, y))
        y += part.height
    return strip
