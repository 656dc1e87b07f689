"""The Projects tab: list, create, open, rename, delete, import/export bundles, sample story."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import gradio as gr

from app import rendering
from app.common import need_project, user_errors
from app.export_tab import bundle_file
from app.context import AppContext
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
    """The line above the tabs saying which story is open."""
    if not project_id:
        return "### No story open yet — create one or open the sample story below."
    project = projects.get_project(ctx.studio, project_id)
    author = f"by {project.author} · " if project.author else ""
    return f"### {project.name}  \n{author}style: {project.style}"


def build(ctx: AppContext, project: gr.State, header: gr.Markdown, tabs: gr.Tabs) -> tuple[Callable, list]:
    """Lay out the Projects tab and wire its events; `project` holds the open project's id."""
    row_ids = gr.State([])
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            gr.Markdown("## Your stories\nClick a story to open it.")
            table = gr.Dataframe(headers=HEADERS, interactive=False, elem_id="project-table",
                                 wrap=True, show_row_numbers=False)
            sample_btn = gr.Button("Open the sample story", elem_id="open-sample")
        with gr.Column(scale=2):
            with gr.Group():
                gr.Markdown("### Start a new story", padding=True)
                new_name = gr.Textbox(label="Title", placeholder="The Fox and the Lantern",
                                      elem_id="new-project-name")
                new_author = gr.Textbox(label="Author", placeholder="optional")
                new_style = gr.Dropdown(list(STYLES), value="Comic book", label="Style")
                create_btn = gr.Button("Create story", variant="primary", elem_id="create-project")
            with gr.Accordion("Import a bundle or an AnyStory script", open=False):
                upload = gr.File(label="Project bundle (.zip) or storyboard script (.json)",
                                 file_types=[".zip", ".json"], elem_id="import-file")
                import_btn = gr.Button("Import", elem_id="import-project")
    with gr.Group(visible=False) as current_box:
        gr.Markdown("### The open story", padding=True)
        with gr.Row():
            rename_box = gr.Textbox(label="Rename to", scale=3, elem_id="rename-project")
            rename_btn = gr.Button("Rename", scale=1)
            bundle_btn = gr.Button("Export bundle (.zip)", scale=1, elem_id="export-bundle-project")
            delete_btn = gr.Button("Delete story…", variant="stop", scale=1, elem_id="delete-project")
        bundle_file = gr.File(label="Bundle", visible=False, interactive=False)
    with gr.Group(visible=False) as confirm_box:
        confirm_text = gr.Markdown(padding=True)
        with gr.Row():
            confirm_btn = gr.Button("Yes, delete it for good", variant="stop", elem_id="confirm-delete-project")
            keep_btn = gr.Button("Keep it")

    def refresh(project_id: Optional[int]):
        table_rows, ids = project_rows(ctx)
        name = projects.get_project(ctx.studio, project_id).name if project_id else ""
        return table_rows, ids, header_text(ctx, project_id), gr.update(visible=bool(project_id)), name

    listing = [table, row_ids, header, current_box, rename_box]

    @user_errors
    def open_row(ids: list[int], evt: gr.SelectData):
        return ids[evt.index[0]], gr.Tabs(selected="story")

    @user_errors
    def create(name: str, author: str, style: str):
        created = projects.create_project(ctx.studio, name, author=author.strip(), style=style)
        gr.Info(f"Created “{created.name}”. Add its characters next.")
        return created.id, "", gr.Tabs(selected="characters")

    @user_errors
    def open_sample(progress=gr.Progress()):
        from story.sample import load_sample

        loaded = load_sample(ctx.studio)
        gr.Info(f"Opened the sample story “{loaded.name}”.")
        if ctx.engine_name() == "draft" and any(p.selected_render_id is None for p in loaded.panels):
            rendering.render_missing(ctx, loaded.id, progress)  # a second or so: show whole pictures at once
        return loaded.id, gr.Tabs(selected="story")

    @user_errors
    def import_file(path: Optional[str]):
        if not path:
            raise gr.Error("Choose a .zip bundle or a .json storyboard script first.", print_exception=False)
        if Path(path).suffix.lower() == ".json":
            imported = script_import.import_script(ctx.studio, path)
        else:
            imported = bundle.import_bundle(ctx.studio, path)
        gr.Info(f"Imported “{imported.name}”.")
        return imported.id, None

    @user_errors
    def rename(project_id: Optional[int], new_name: str):
        renamed = projects.rename_project(ctx.studio, need_project(project_id), new_name)
        gr.Info(f"Renamed to “{renamed.name}”.")
        return refresh(project_id)

    @user_errors
    def export_bundle(project_id: Optional[int]):
        return gr.update(value=str(bundle_file(ctx, need_project(project_id))), visible=True)

    @user_errors
    def ask_delete(project_id: Optional[int]):
        shown = projects.get_project(ctx.studio, need_project(project_id))
        return gr.update(visible=True), (
            f"**Delete “{shown.name}”** with its {len(shown.panels)} panels, "
            f"{len(shown.characters)} characters and all renders? This cannot be undone. "
            "(Export a bundle first to keep a copy.)")

    @user_errors
    def delete(project_id: Optional[int]):
        projects.delete_project(ctx.studio, need_project(project_id))
        gr.Info("Story deleted.")
        return None, gr.update(visible=False)

    project.change(refresh, project, listing)
    table.select(open_row, row_ids, [project, tabs])
    create_btn.click(create, [new_name, new_author, new_style], [project, new_name, tabs])
    new_name.submit(create, [new_name, new_author, new_style], [project, new_name, tabs])
    sample_btn.click(open_sample, None, [project, tabs])
    import_btn.click(import_file, upload, [project, upload])
    rename_btn.click(rename, [project, rename_box], listing)
    bundle_btn.click(export_bundle, project, bundle_file)
    delete_btn.click(ask_delete, project, [confirm_box, confirm_text])
    keep_btn.click(lambda: gr.update(visible=False), None, confirm_box)
    confirm_btn.click(delete, project, [project, confirm_box])
    return refresh, listing
