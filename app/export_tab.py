"""The Export tab: page settings, a preview of the pages, and the files a story leaves as.

Files are written under the data directory's exports/ folder (served to the browser from
there), named after the story; a new export replaces the previous one of the same kind,
always atomically (a kill mid-export never leaves a truncated file there). Handlers return
dicts keyed by component, so tests call them in process.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import gradio as gr

from app.common import inform, need_project, user_errors, warn
from app.context import AppContext
from story import projects

PAGE_SIZES = {"A4": "a4", "US Letter": "letter", "US comic (6.625 × 10.25 in)": "us-comic", "A5": "148x210mm"}
TEMPLATES = {"Auto (by panel shapes)": "auto", "One panel per page": "single", "Two rows": "2-rows",
             "Three rows": "3-rows", "2 × 2 grid": "2x2", "2 × 3 grid": "2x3", "Splash first": "splash-first"}
DIRECTIONS = {"Left to right": "ltr", "Right to left (manga)": "rtl"}
PLACEMENTS = {"Trim backgrounds to fill pages": "fill", "Show whole pictures": "fit"}
KINDS = {  # kind -> (button, file name after the story's, format)
    "pdf": ("Comic PDF", ".pdf", "pdf"),
    "print": ("Print PDF (bleed, 300 dpi)", ".print.pdf", "pdf"),
    "cbz": ("CBZ (comic reader)", ".cbz", "cbz"),
    "epub": ("EPUB (fixed layout)", ".epub", "epub"),
    "webtoon": ("Webtoon strips (.zip)", ".webtoon.zip", "webtoon"),
    "png": ("PNG pages (.zip)", ".pages.zip", "png"),
    "bundle": ("Project bundle (.zip)", ".bundle.zip", "bundle"),
}
MM = 72 / 25.4


def _label(options: dict[str, str], value: Any, default: str) -> str:
    return next((label for label, v in options.items() if v == value), default)


def file_stem(ctx: AppContext, project_id: int) -> Path:
    """exports/<story name> as a safe file name."""
    name = projects.get_project(ctx.studio, project_id).name
    safe = re.sub(r"[^\w\-]+", "-", name, flags=re.UNICODE).strip("-") or f"story-{project_id}"
    return ctx.studio.data_dir.exports / safe


@dataclass(frozen=True)
class Choices:
    """The writer's page choices as the tab's widgets hold them (labels)."""

    page: str = "A4"
    template: str = next(iter(TEMPLATES))
    direction: str = "Left to right"
    title_page: bool = True
    placement: str = next(iter(PLACEMENTS))
    bleed_mm: float = 3.0


def page_settings(ctx: AppContext, project_id: int, choices: Choices, print_ready: bool = False) -> Any:
    """The writer's choices over the project's stored page settings; the choices are kept
    in the project for next time."""
    from story.export.from_project import page_settings as overlay

    chosen = {"page_size": PAGE_SIZES[choices.page], "layout": TEMPLATES[choices.template],
              "reading_direction": DIRECTIONS[choices.direction], "title_page": bool(choices.title_page),
              "placement": PLACEMENTS[choices.placement]}
    if not 0 <= float(choices.bleed_mm or 0) <= 20:
        raise ValueError("The bleed must be 0 to 20 mm.")
    stored = projects.get_project(ctx.studio, project_id).page_settings
    settings = overlay(stored, **chosen, bleed=float(choices.bleed_mm or 0) * MM if print_ready else 0.0)
    if any(stored.get(k) != v for k, v in chosen.items()):
        projects.update_project(ctx.studio, project_id, page_settings={**stored, **chosen})
    return settings


def stored_choices(ctx: AppContext, project_id: Optional[int]) -> Choices:
    """The widgets' values from the project's page settings (defaults for a new project)."""
    stored = projects.get_project(ctx.studio, project_id).page_settings if project_id else {}
    return Choices(_label(PAGE_SIZES, stored.get("page_size"), "A4"),
                   _label(TEMPLATES, stored.get("layout"), next(iter(TEMPLATES))),
                   _label(DIRECTIONS, stored.get("reading_direction"), "Left to right"),
                   stored.get("title_page", True),
                   _label(PLACEMENTS, stored.get("placement"), next(iter(PLACEMENTS))))


def warn_all(report: Any) -> None:
    for warning in report.warnings[:5]:
        warn(warning)  # warnings quote captions and titles: shown as text


def export_file(ctx: AppContext, project_id: int, kind: str, choices: Choices) -> Any:
    """Write one kind of export into exports/ and return its report (path, pages, warnings)."""
    from story.export.from_project import export_project
    from story.export.output import ExportReport

    stem = file_stem(ctx, project_id)
    out = stem.parent / (stem.name + KINDS[kind][1])
    if kind == "bundle":
        return ExportReport(bundle_file(ctx, project_id), 0)
    settings = page_settings(ctx, project_id, choices, print_ready=kind == "print")
    fmt = KINDS[kind][2]
    if fmt in ("png", "webtoon"):   # one zip, written atomically, for a single download
        return page_zip(ctx, project_id, fmt, settings, out)
    return export_project(ctx.studio, project_id, fmt, out, settings, force=True, print_ready=kind == "print")


def page_zip(ctx: AppContext, project_id: int, fmt: str, settings: Any, out: Path) -> Any:
    """PNG pages or webtoon strips as one zip in exports/."""
    from story.export.from_project import comic_document
    from story.export.png import export_png_zip
    from story.export.webtoon import export_webtoon_zip

    document = comic_document(ctx.studio, project_id)
    if fmt == "png":
        return export_png_zip(document, settings, out, force=True)
    return export_webtoon_zip(document, settings, out, force=True)


@dataclass
class ExportTab:
    """The tab's widgets and its handlers (each returns {component: value})."""

    ctx: AppContext
    page: Any
    template: Any
    direction: Any
    title_page: Any
    placement: Any
    bleed: Any
    files: Any
    pages: Any

    @property
    def choice_widgets(self) -> list[Any]:
        return [self.page, self.template, self.direction, self.title_page, self.placement, self.bleed]

    def preview(self, project_id: Optional[int], *choices: Any) -> dict:
        """Small PNG pages of the export as it stands, for the gallery."""
        project_id = need_project(project_id)
        from story.export.from_project import export_project

        exports = self.ctx.studio.data_dir.exports
        for old in exports.glob(f".preview-{project_id}-*"):
            shutil.rmtree(old, ignore_errors=True)
        out = Path(tempfile.mkdtemp(prefix=f".preview-{project_id}-", dir=exports))
        settings = page_settings(self.ctx, project_id, Choices(*choices))
        report = export_project(self.ctx.studio, project_id, "png", out, settings, dpi=60, force=True)
        warn_all(report)
        return {self.pages: [str(p) for p in report.files]}

    def export(self, kind: str, project_id: Optional[int], *args: Any) -> dict:
        """Write the export of `kind` and add it to the files offered for download."""
        *choices, current = args
        report = export_file(self.ctx, need_project(project_id), kind, Choices(*choices))
        warn_all(report)
        if report.pages:
            inform(f"Exported {report.pages} page(s).")
        path = Path(report.path)
        kept = [str(p) for p in (current or []) if Path(p).name != path.name]
        return {self.files: kept + [str(path)]}

    def exporter(self, kind: str) -> Callable[..., dict]:
        """The click handler of one kind's button."""
        def export(project_id: Optional[int], page: str, template: str, direction: str, title_page: bool,
                   placement: str, bleed: float, current: Optional[list]) -> dict:
            return self.export(kind, project_id, page, template, direction, title_page, placement, bleed, current)
        return export

    def project_changed(self, project_id: Optional[int]) -> dict:
        """Another project: empty preview and files, its stored page choices."""
        choices = stored_choices(self.ctx, project_id)
        return {self.pages: [], self.files: None, self.page: choices.page, self.template: choices.template,
                self.direction: choices.direction, self.title_page: choices.title_page,
                self.placement: choices.placement}


def build(ctx: AppContext, project: gr.State) -> ExportTab:
    """Lay out the Export tab and wire its events."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260):
            gr.Markdown("## Pages")
            tab = ExportTab(
                ctx,
                page=gr.Dropdown(list(PAGE_SIZES), value="A4", label="Page size", elem_id="export-page-size"),
                template=gr.Dropdown(list(TEMPLATES), value=next(iter(TEMPLATES)), label="Template",
                                     elem_id="export-template"),
                direction=gr.Radio(list(DIRECTIONS), value="Left to right", label="Reading direction",
                                   elem_id="export-direction"),
                title_page=gr.Checkbox(value=True, label="Title page"),
                placement=gr.Radio(list(PLACEMENTS), value=next(iter(PLACEMENTS)), label="Pictures",
                                   info="Trimming never cuts into a character.", elem_id="export-placement"),
                bleed=gr.Number(value=3.0, minimum=0, maximum=20, label="Print bleed (mm)", elem_id="export-bleed"),
                files=None, pages=None)
            preview_btn = gr.Button("Preview pages", elem_id="export-preview")
            gr.Markdown("## Download")
            buttons = {kind: gr.Button(label, variant="primary" if kind == "pdf" else "secondary",
                                       elem_id=f"export-{kind}") for kind, (label, _, _) in KINDS.items()}
            tab.files = gr.File(label="Your files", file_count="multiple", interactive=False, elem_id="export-files")
        with gr.Column(scale=3):
            tab.pages = gr.Gallery(label="Preview", columns=2, height=760, object_fit="contain",
                                   elem_id="export-pages")
    _wire(tab, project, preview_btn, buttons)
    return tab


def _wire(tab: ExportTab, project: gr.State, preview_btn: Any, buttons: dict[str, Any]) -> None:
    inputs = [project, *tab.choice_widgets]
    preview_btn.click(user_errors(tab.preview), inputs, [tab.pages], concurrency_limit=2)
    for kind, button in buttons.items():
        button.click(user_errors(tab.exporter(kind)), inputs + [tab.files], [tab.files], concurrency_limit=2)
    project.change(user_errors(tab.project_changed), project,
                   [tab.pages, tab.files, tab.page, tab.template, tab.direction, tab.title_page, tab.placement])


def bundle_file(ctx: AppContext, project_id: int) -> Path:
    """The project as a bundle zip in exports/ (imports back losslessly)."""
    from story.bundle import export_bundle

    return export_bundle(ctx.studio, project_id, file_stem(ctx, project_id).with_suffix(".bundle.zip"), force=True)
