"""From a stored project to what the exporters take: a ComicDocument and PageSettings.

A panel exports its selected render (or a placeholder with its prompt), its caption, its
dialogue, and where its characters are: the render's routing maps, else the writer's boxes,
so cropping spares them, tails point at speakers and balloons avoid faces. A draft render
exports without its badge and prompt band (engine.draft.art_box) and is flagged so pages
say DRAFT. The project's `page_settings` dict holds PageSettings fields; callers overlay
their choices.
"""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

from engine.draft import art_box
from story.errors import Conflict, InvalidInput
from story.export.cbz import export_cbz
from story.export.document import Balloon, ComicDocument, ComicPanel, PageSettings
from story.export.output import ExportExistsError, ExportReport
from story.export.pdf import export_pdf
from story.export.png import export_png
from story.export.epub import export_epub
from story.export.webtoon import export_webtoon
from story.projects import ProjectRef, get_project
from story.renders import get_render
from story.routing_maps import load_routing_maps
from story.studio import Studio
from story.views import PanelView, ProjectView

SCRIPTS = (("ja", re.compile(r"[\u3040-\u30ff]")), ("ko", re.compile(r"[\uac00-\ud7af]")),
           ("zh", re.compile(r"[\u4e00-\u9fff]")), ("ru", re.compile(r"[\u0400-\u04ff]")))

PAGE_SETTING_NAMES = tuple(f.name for f in fields(PageSettings))


def page_settings(stored: dict[str, Any], **choices: Any) -> PageSettings:
    """PageSettings from a project's stored settings overlaid by `choices` (None = keep)."""
    merged = {k: v for k, v in stored.items() if k in PAGE_SETTING_NAMES}
    merged.update({k: v for k, v in choices.items() if v is not None})
    unknown = set(merged) - set(PAGE_SETTING_NAMES)
    if unknown:
        raise InvalidInput(f"Unknown page setting(s): {', '.join(sorted(unknown))}.")
    try:
        return PageSettings(**merged)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from exc


def comic_panel(studio: Studio, panel: PanelView) -> ComicPanel:
    """A stored panel as the exporters take it (see the module's docstring)."""
    boxes = {c.name: c.box for c in panel.characters if c.box}
    image_path, maps, art, draft = None, {}, None, False
    if panel.selected_render_id is not None and panel.selected_image_hash:
        image_path = studio.assets.path(panel.selected_image_hash)
        render = get_render(studio, panel.selected_render_id)
        width, height = render.params.get("width", 0), render.params.get("height", 0)
        pixels = art_box(render.fingerprint, width, height) if width and height else None
        if pixels is not None:
            art = (pixels[0] / width, pixels[1] / height, pixels[2] / width, pixels[3] / height)
        draft = render.fingerprint.startswith("draft-")  # older drafts keep their badge: re-render them
        names = [s.get("name", "") for s in render.params.get("subjects", [])]
        maps = {name: _crop(grid, pixels) for name, grid in zip(names, _maps(studio, render))}
        boxes = {name: _in_art(box, art) for name, box in boxes.items()}
    return ComicPanel(
        index=panel.number, image_path=image_path, prompt=panel.prompt, caption=panel.caption,
        balloons=[Balloon(b.speaker or "", b.text, b.kind) for b in panel.balloons],
        hint=panel.overrides.get("hint") or None, character_boxes={n: b for n, b in boxes.items() if b},
        character_maps=maps, art_box=art, draft=draft,
        unplaced=tuple(c.name for c in panel.characters if c.name not in maps and not boxes.get(c.name)),
    )


def _maps(studio: Studio, render: Any) -> list[Any]:
    """The render's routing maps; an unreadable maps file only loses them (boxes still count)."""
    try:
        return load_routing_maps(studio, render)
    except (InvalidInput, OSError):
        return []


def _crop(grid: Any, pixels: Optional[tuple[int, int, int, int]]) -> Any:
    return grid[pixels[1]:pixels[3], pixels[0]:pixels[2]] if pixels else grid


def _in_art(box: tuple[float, float, float, float], art: Optional[tuple[float, float, float, float]]) -> Any:
    """A box normalised to the whole image, normalised to the art instead (None if outside it)."""
    if art is None:
        return box
    ax0, ay0, ax1, ay1 = art
    x0, y0 = (box[0] - ax0) / (ax1 - ax0), (box[1] - ay0) / (ay1 - ay0)
    x1, y1 = min((box[2] - ax0) / (ax1 - ax0), 1.0), min((box[3] - ay0) / (ay1 - ay0), 1.0)
    return (max(x0, 0.0), max(y0, 0.0), x1, y1) if x1 > max(x0, 0) and y1 > max(y0, 0) else None


def comic_document(studio: Studio, project: ProjectRef, *, title: Optional[str] = None) -> ComicDocument:
    """The project's panels in story order, ready for export_pdf/png/cbz/epub/webtoon."""
    view = get_project(studio, project)
    if not view.panels:
        raise InvalidInput(f"{view.name} has no panels to export yet.")
    return ComicDocument(
        title=title or view.name, author=view.author, series=view.name, number="1",
        panels=[comic_panel(studio, panel) for panel in view.panels],
        summary=summary(view), characters=tuple(c.name for c in view.characters), language=language(view),
    )


def summary(view: ProjectView) -> str:
    """What readers see of the story before opening it: its cast and its opening narration."""
    cast = ", ".join(c.name for c in view.characters)
    opening = next((p.caption for p in view.panels if p.caption.strip()), "")
    text = f"A comic in {len(view.panels)} panels" + (f" with {cast}." if cast else ".")
    return f"{text} {opening}".strip()


def language(view: ProjectView) -> str:
    """ISO 639-1 code of the story's text, from the scripts its captions and dialogue use."""
    text = " ".join([p.caption for p in view.panels] + [b.text for p in view.panels for b in p.balloons])
    return next((code for code, script in SCRIPTS if script.search(text)), "en")


COMIC_FORMATS = ("pdf", "cbz", "png", "epub", "webtoon")
PAGE_WRITERS = {"cbz": export_cbz, "png": export_png, "epub": export_epub, "webtoon": export_webtoon}


def export_project(
    studio: Studio, project: ProjectRef, fmt: str, out: Path, settings: PageSettings, *,
    dpi: int = 150, force: bool = False, print_ready: bool = False,
) -> ExportReport:
    """Export a project as a comic PDF (print_ready: with bleed and trim boxes), CBZ, EPUB,
    webtoon strips or a folder of PNG pages; problems with the output (it exists without
    force, a bad DPI…) become user-facing errors."""
    if fmt not in COMIC_FORMATS:
        raise InvalidInput(f"Unknown comic format {fmt!r}; use one of {', '.join(COMIC_FORMATS)}.")
    if print_ready and fmt != "pdf":
        raise InvalidInput("A print-ready export (--print) is a PDF: use --format pdf.")
    document = comic_document(studio, project)
    try:
        if fmt == "pdf":
            return export_pdf(document, settings, out, force=force, print_ready=print_ready)
        return PAGE_WRITERS[fmt](document, settings, out, dpi=dpi, force=force)
    except ExportExistsError as exc:
        raise Conflict(str(exc)) from exc
    except (ValueError, IsADirectoryError) as exc:
        raise InvalidInput(str(exc)) from exc
