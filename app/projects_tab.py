"""The Projects tab: list, create, open, rename, delete, import/export bundles, sample story.
Every handler returns {component: value}; names, authors and styles are shown as text."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import gradio as gr

from app import rendering
from app.common import Outputs, inform, need_project, plain, user_errors
from app.context import AppContext
from app.export_tab import bundle_file
from story import bundle, projects, script_import
from story.prompts import STYLES

HEADERS = ["Story", "Author", "Panels", "Characters", "Last change"]
def project_rows(ctx: AppContext) -> tuple[list[list[Any]], list[int]]:
    """The table of projects and the ids of its rows, most recently changed first."""
    rows = projects.list_projects(ctx.studio)
    table = [
        [p.name, p.author, p.panel_count, p.character_count, p.updated_at.strftime("%Y-%m-%d %H:%M")]
        for p in rows
    ]
    return table, [p.id for p in rows]


def header_text(ctx: AppContext, project_id: Optional[int]) -> str:
    """The line above the tabs saying which story is open, as HTML with the user's text escaped."""
    if not project_id:
        return "<h3>No story open yet — create one or open the sample story below.</h3>"
    project = projects.get_project(ctx.studio, project_id)
    author = f"by {plain(project.author)} · " if project.author else ""
    return f"<h3>{plain(project.name)}</h3><p>{author}style: {plain(project.style)}</p>"


def script_title(path: str) -> str:
    """A script's default title: its file name as words ("lantern_fox.json" -> "Lantern fox")."""
    words = " ".join(Path(path).stem.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:] if words else "Imported story"


@dataclass
class ProjectsUI:
    """The Projects tab's components."""

    project: gr.State
    header: gr.HTML
    tabs: gr.Tabs
    row_ids: gr.State
    table: gr.Dataframe
    sample_btn: gr.Button
    new_name: gr.Textbox
    new_author: gr.Textbox
    new_style: gr.Dropdown
    create_btn: gr.Button
    upload: gr.File
    import_title: gr.Textbox
    import_btn: gr.Button
    current_box: gr.Group
    rename_box: gr.Textbox
    rename_btn: gr.Button
    bundle_btn: gr.Button
    bundle_download: gr.File
    delete_btn: gr.Button
    confirm_box: gr.Group
    confirm_text: gr.HTML
    confirm_btn: gr.Button
    keep_btn: gr.Button


def _list_and_new() -> dict[str, Any]:
    parts: dict[str, Any] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            gr.Markdown("## Your stories\nClick a story to open it.")
            parts["table"] = gr.Dataframe(headers=HEADERS, interactive=False, elem_id="project-table",
                                          wrap=True, show_row_numbers=False)
            parts["sample_btn"] = gr.Button("Open the sample story", elem_id="open-sample")
        with gr.Column(scale=2):
            with gr.Group():
                gr.Markdown("### Start a new story", padding=True)
                parts["new_name"] = gr.Textbox(label="Title", placeholder="The Fox and the Lantern",
                                               elem_id="new-project-name")
                parts["new_author"] = gr.Textbox(label="Author", placeholder="optional", elem_id="new-project-author")
                parts["new_style"] = gr.Dropdown(list(STYLES), value="Comic book", label="Style")
                parts["create_btn"] = gr.Button("Create story", variant="primary", elem_id="create-project")
            with gr.Accordion("Import a bundle or an AnyStory script", open=False):
                parts["upload"] = gr.File(label="Project bundle (.zip) or storyboard script (.json)",
                                          file_types=[".zip", ".json"], elem_id="import-file")
                parts["import_title"] = gr.Textbox(label="Title for a script", elem_id="import-title",
                                                   placeholder="optional; default: the file's name as words")
                parts["import_btn"] = gr.Button("Import", elem_id="import-project")
    return parts


def _open_story() -> dict[str, Any]:
    parts: dict[str, Any] = {}
    with gr.Group(visible=False) as parts["current_box"]:
        gr.Markdown("### The open story", padding=True)
        with gr.Row():
            parts["rename_box"] = gr.Textbox(label="Rename to", scale=3, elem_id="rename-project")
            parts["rename_btn"] = gr.Button("Rename", scale=1)
            parts["bundle_btn"] = gr.Button("Export bundle (.zip)", scale=1, elem_id="export-bundle-project")
            parts["delete_btn"] = gr.Button("Delete story…", variant="stop", scale=1, elem_id="delete-project")
        parts["bundle_download"] = gr.File(label="Bundle", visible=False, interactive=False,
                                           elem_id="bundle-download")
    with gr.Group(visible=False) as parts["confirm_box"]:
        parts["confirm_text"] = gr.HTML(padding=True, elem_id="confirm-delete-project-text")
        with gr.Row():
            parts["confirm_btn"] = gr.Button("Yes, delete it for good", variant="stop",
                                             elem_id="confirm-delete-project")
            parts["keep_btn"] = gr.Button("Keep it")
    return parts


class ProjectsTab:
    """The Projects tab's handlers over its components (`ui`)."""

    def __init__(self, ctx: AppContext, ui: ProjectsUI) -> None:
        self.ctx, self.ui = ctx, ui

    @property
    def listing_outputs(self) -> set[Any]:
        ui = self.ui
        return {ui.table, ui.row_ids, ui.header, ui.current_box, ui.rename_box}

    def refresh(self, project_id: Optional[int]) -> Outputs:
        ui = self.ui
        table_rows, ids = project_rows(self.ctx)
        name = projects.get_project(self.ctx.studio, project_id).name if project_id else ""
        return {ui.table: table_rows, ui.row_ids: ids, ui.header: header_text(self.ctx, project_id),
                ui.current_box: gr.update(visible=bool(project_id)), ui.rename_box: name}

    @user_errors
    def open_row(self, ids: list[int], evt: gr.SelectData) -> Outputs:
        return {self.ui.project: ids[evt.index[0]], self.ui.tabs: gr.Tabs(selected="story")}

    @user_errors
    def create(self, name: str, author: str, style: str) -> Outputs:
        created = projects.create_project(self.ctx.studio, name, author=(author or "").strip(), style=style)
        inform(f"Created “{created.name}”. Add its characters next.")
        return {self.ui.project: created.id, self.ui.new_name: "", self.ui.tabs: gr.Tabs(selected="characters")}

    @user_errors
    def open_sample(self, progress: gr.Progress = gr.Progress()) -> Outputs:
        from story.sample import load_sample

        loaded = load_sample(self.ctx.studio)
        inform(f"Opened the sample story “{loaded.name}”.")
        if self.ctx.engine_name() == "draft" and any(p.selected_render_id is None for p in loaded.panels):
            rendering.render_missing(self.ctx, loaded.id, progress)  # a second or so: show whole pictures at once
        return {self.ui.project: loaded.id, self.ui.tabs: gr.Tabs(selected="story")}

    @user_errors
    def import_file(self, path: Optional[str], title: str) -> Outputs:
        if not path:
            raise gr.Error("Choose a .zip bundle or a .json storyboard script first.", print_exception=False)
        if Path(path).suffix.lower() == ".json":
            name = (title or "").strip() or script_title(path)
            imported = script_import.import_script(self.ctx.studio, path, project_name=name)
        else:
            imported = bundle.import_bundle(self.ctx.studio, path)
        inform(f"Imported “{imported.name}”.")
        return {self.ui.project: imported.id, self.ui.upload: None, self.ui.import_title: ""}

    @user_errors
    def rename(self, project_id: Optional[int], new_name: str) -> Outputs:
        renamed = projects.rename_project(self.ctx.studio, need_project(project_id), new_name)
        inform(f"Renamed to “{renamed.name}”.")
        return self.refresh(project_id)

    @user_errors
    def export_bundle(self, project_id: Optional[int]) -> Outputs:
        written = bundle_file(self.ctx, need_project(project_id))
        return {self.ui.bundle_download: gr.update(value=str(written), visible=True)}

    @user_errors
    def ask_delete(self, project_id: Optional[int]) -> Outputs:
        shown = projects.get_project(self.ctx.studio, need_project(project_id))
        text = (f"<p><b>Delete “{plain(shown.name)}”</b> with its {len(shown.panels)} panels, "
                f"{len(shown.characters)} characters and all renders? This cannot be undone. "
                "(Export a bundle first to keep a copy.)</p>")
        return {self.ui.confirm_box: gr.update(visible=True), self.ui.confirm_text: text}

    def keep(self) -> Outputs:
        return {self.ui.confirm_box: gr.update(visible=False)}

    @user_errors
    def delete(self, project_id: Optional[int]) -> Outputs:
        projects.delete_project(self.ctx.studio, need_project(project_id))
        inform("Story deleted.")
        return {self.ui.project: None, self.ui.confirm_box: gr.update(visible=False)}


def _wire(tab: ProjectsTab) -> None:
    ui = tab.ui
    created = {ui.project, ui.new_name, ui.tabs}
    # progress on the list, not on the tabs: a status on gr.Tabs makes Gradio 6 re-read every
    # component inside on every later event (ImageEditors re-upload themselves; see quality_ui.wire)
    on_list = {"show_progress_on": ui.table}
    ui.project.change(tab.refresh, ui.project, tab.listing_outputs)
    ui.table.select(tab.open_row, ui.row_ids, {ui.project, ui.tabs}, **on_list)
    ui.create_btn.click(tab.create, [ui.new_name, ui.new_author, ui.new_style], created, **on_list)
    ui.new_name.submit(tab.create, [ui.new_name, ui.new_author, ui.new_style], created, **on_list)
    ui.sample_btn.click(tab.open_sample, None, {ui.project, ui.tabs}, **on_list)
    ui.import_btn.click(tab.import_file, [ui.upload, ui.import_title], {ui.project, ui.upload, ui.import_title})
    ui.rename_btn.click(tab.rename, [ui.project, ui.rename_box], tab.listing_outputs)
    ui.bundle_btn.click(tab.export_bundle, ui.project, {ui.bundle_download})
    ui.delete_btn.click(tab.ask_delete, ui.project, {ui.confirm_box, ui.confirm_text})
    ui.keep_btn.click(tab.keep, None, {ui.confirm_box})
    ui.confirm_btn.click(tab.delete, ui.project, {ui.project, ui.confirm_box})


def build(ctx: AppContext, project: gr.State, header: gr.HTML, tabs: gr.Tabs) -> ProjectsTab:
    """Lay out the Projects tab and wire its events; `project` holds the open project's id."""
    row_ids = gr.State([])
    parts = {**_list_and_new(), **_open_story()}
    tab = ProjectsTab(ctx, ProjectsUI(project=project, header=header, tabs=tabs, row_ids=row_ids, **parts))
    _wire(tab)
    return tab
