"""From a stored project to what the exporters take: a ComicDocument and PageSettings.

A panel exports its selected render (or a placeholder with its prompt), its caption, its
dialogue, and the boxes of the characters who speak, so balloon tails point at them. The
project's `page_settings` dict holds PageSettings fields; callers overlay their choices.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

from story.errors import Conflict, InvalidInput
from story.export.cbz import export_cbz
from story.export.document import Balloon, ComicDocument, ComicPanel, PageSettings
from story.export.output import ExportExistsError, ExportReport
from story.export.pdf import export_pdf
from story.export.png import export_png
from story.projects import ProjectRef, get_project
from story.studio import Studio
from story.views import PanelView

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
    boxes = {c.name: c.box for c in panel.characters if c.box}
    return ComicPanel(
        index=panel.number,
        image_path=studio.assets.path(panel.selected_image_hash) if panel.selected_image_hash else None,
        prompt=panel.prompt,
        caption=panel.caption,
        balloons=[Balloon(b.speaker or "", b.text, b.kind) for b in panel.balloons],
        hint=panel.overrides.get("hint") or None,
        speaker_boxes={b.speaker: boxes[b.speaker] for b in panel.balloons if b.speaker in boxes},
    )


def comic_document(studio: Studio, project: ProjectRef, *, title: Optional[str] = None) -> ComicDocument:
    """The project's panels in story order, ready for export_pdf/png/cbz."""
    view = get_project(studio, project)
    if not view.panels:
        raise InvalidInput(f"{view.name} has no panels to export yet.")
    return ComicDocument(
        title=title or view.name, author=view.author,
        panels=[comic_panel(studio, panel) for panel in view.panels],
    )


COMIC_FORMATS = ("pdf", "cbz", "png")


def export_project(
    studio: Studio, project: ProjectRef, fmt: str, out: Path, settings: PageSettings, *,
    dpi: int = 150, force: bool = False,
) -> ExportReport:
    """Export a project as a comic PDF, CBZ, or a folder of PNG pages; problems with the
    output (it exists without force, a bad DPI…) become user-facing errors."""
    if fmt not in COMIC_FORMATS:
        raise InvalidInput(f"Unknown comic format {fmt!r}; use one of {', '.join(COMIC_FORMATS)}.")
    document = comic_document(studio, project)
    try:
        if fmt == "pdf":
            return export_pdf(document, settings, out, force=force)
        writer = export_cbz if fmt == "cbz" else export_png
        return writer(document, settings, out, dpi=dpi, force=force)
    except ExportExistsError as exc:
        raise Conflict(str(exc)) from exc
    except (ValueError, IsADirectoryError) as exc:
        raise InvalidInput(str(exc)) from exc
