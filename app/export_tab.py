"""The Export tab: page settings, a preview of the pages, and PDF / CBZ / PNG / bundle files.

Files are written under the data directory's exports/ folder (served to the browser from
there), named after the story; a new export replaces the previous one of the same kind.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Optional

import gradio as gr

from app.common import need_project, user_errors, warn
from app.context import AppContext
from story import projects

PAGE_SIZES = {"A4": "a4", "US Letter": "letter", "US comic (6.625 × 10.25 in)": "us-comic", "A5": "148x210mm"}
TEMPLATES = {"Auto (by panel shapes)": "auto", "One panel per page": "single", "Two rows": "2-rows",
             "Three rows": "3-rows", "2 × 2 grid": "2x2", "2 × 3 grid": "2x3", "Splash first": "splash-first"}
DIRECTIONS = {"Left to right": "ltr", "Right to left (manga)": "rtl"}


def _export() -> Any:
    """story.export, imported on first use (reportlab stays out of the app's startup)."""
    from story import export

    return export


def _label(options: dict[str, str], value: Any, default: str) -> str:
    return next((label for label, v in options.items() if v == value), default)


def file_stem(ctx: AppContext, project_id: int) -> Path:
    """exports/<story name> as a safe file name."""
    name = projects.get_project(ctx.studio, project_id).name
    safe = re.sub(r"[^\w\-]+", "-", name, flags=re.UNICODE).strip("-") or f"story-{project_id}"
    return ctx.studio.data_dir.exports / safe


def page_settings(ctx: AppContext, project_id: int, page: str, template: str, direction: str,
                  title_page: bool) -> Any:
    """The writer's choices over the project's stored page settings; the choices are kept
    in the project for next time."""
    from story.export.from_project import page_settings as overlay

    choices = {"page_size": PAGE_SIZES[page], "layout": TEMPLATES[template],
               "reading_direction": DIRECTIONS[direction], "title_page": bool(title_page)}
    stored = projects.get_project(ctx.studio, project_id).page_settings
    settings = overlay(stored, **choices)
    if any(stored.get(k) != v for k, v in choices.items()):
        projects.update_project(ctx.studio, project_id, page_settings={**stored, **choices})
    return settings


def stored_choices(ctx: AppContext, project_id: Optional[int]) -> list[Any]:
    """The dropdowns' values from the project's page settings (defaults for a new project)."""
    stored = projects.get_project(ctx.studio, project_id).page_settings if project_id else {}
    return [_label(PAGE_SIZES, stored.get("page_size"), "A4"),
            _label(TEMPLATES, stored.get("layout"), next(iter(TEMPLATES))),
            _label(DIRECTIONS, stored.get("reading_direction"), "Left to right"),
            stored.get("title_page", True)]


def warn_all(report: Any) -> None:
    for warning in report.warnings[:5]:
        warn(warning)  # warnings quote captions and titles: shown as text


def build(ctx: AppContext, project: gr.State) -> None:
    """Lay out the Export tab and wire its events."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260):
            gr.Markdown("## Pages")
            page = gr.Dropdown(list(PAGE_SIZES), value="A4", label="Page size", elem_id="export-page-size")
            template = gr.Dropdown(list(TEMPLATES), value=next(iter(TEMPLATES)), label="Template",
                                   elem_id="export-template")
            direction = gr.Radio(list(DIRECTIONS), value="Left to right", label="Reading direction",
                                 elem_id="export-direction")
            title_page = gr.Checkbox(value=True, label="Title page")
            preview_btn = gr.Button("Preview pages", elem_id="export-preview")
            gr.Markdown("## Download")
            pdf_btn = gr.Button("Comic PDF", variant="primary", elem_id="export-pdf")
            cbz_btn = gr.Button("CBZ (comic reader)", elem_id="export-cbz")
            png_btn = gr.Button("PNG pages (.zip)", elem_id="export-png")
            bundle_btn = gr.Button("Project bundle (.zip)", elem_id="export-bundle")
            files = gr.File(label="Your files", file_count="multiple", interactive=False, elem_id="export-files")
        with gr.Column(scale=3):
            pages = gr.Gallery(label="Preview", columns=2, height=760, object_fit="contain",
                               elem_id="export-pages")

    settings = [project, page, template, direction, title_page]

    def document(project_id: Optional[int]) -> Any:
        from story.export.from_project import comic_document

        return comic_document(ctx.studio, need_project(project_id))

    def add_file(current: Optional[list], path: Path) -> list[str]:
        kept = [str(p) for p in (current or []) if Path(p).suffix != path.suffix or Path(p).name != path.name]
        return kept + [str(path)]

    @user_errors
    def preview(project_id: Optional[int], *choices: Any):
        project_id = need_project(project_id)
        for old in ctx.studio.data_dir.exports.glob(f".preview-{project_id}-*"):
            shutil.rmtree(old, ignore_errors=True)
        out = Path(tempfile.mkdtemp(prefix=f".preview-{project_id}-", dir=ctx.studio.data_dir.exports))
        report = _export().export_png(document(project_id), page_settings(ctx, project_id, *choices), out,
                                      dpi=60, force=True)
        warn_all(report)
        return [str(p) for p in report.files]

    def exporter(kind: str):
        @user_errors
        def run(project_id: Optional[int], *args: Any):
            *choices, current = args
            stem = file_stem(ctx, need_project(project_id))
            if kind == "bundle":
                return add_file(current, bundle_file(ctx, project_id))
            doc, chosen = document(project_id), page_settings(ctx, project_id, *choices)
            if kind == "pdf":
                report = _export().export_pdf(doc, chosen, stem.with_suffix(".pdf"), force=True)
            elif kind == "cbz":
                report = _export().export_cbz(doc, chosen, stem.with_suffix(".cbz"), force=True)
            else:
                report = _export().export_png(doc, chosen, stem.parent / f"{stem.name}-pages", force=True)
                report.path = zip_pages(report.files, stem.parent / f"{stem.name}-pages.zip")
            warn_all(report)
            gr.Info(f"Exported {report.pages} page(s).")
            return add_file(current, Path(report.path))
        return run

    preview_btn.click(preview, settings, pages, concurrency_limit=2)
    for button, kind in ((pdf_btn, "pdf"), (cbz_btn, "cbz"), (png_btn, "png"), (bundle_btn, "bundle")):
        button.click(exporter(kind), settings + [files], files, concurrency_limit=2)
    project.change(lambda p: [[], None] + stored_choices(ctx, p), project, [pages, files] + settings[1:])


def bundle_file(ctx: AppContext, project_id: int) -> Path:
    """The project as a bundle zip in exports/ (imports back losslessly)."""
    from story.bundle import export_bundle

    return export_bundle(ctx.studio, project_id, file_stem(ctx, project_id).with_suffix(".bundle.zip"), force=True)


def zip_pages(paths: list[Path], out: Path) -> Path:
    """The PNG pages in one zip, for a single download."""
    with zipfile.ZipFile(out, "w") as archive:
        for path in paths:
            archive.write(path, Path(path).name, zipfile.ZIP_STORED)
    return out
