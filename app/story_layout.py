"""The Story tab's components, laid out in named parts: the panel list, the editor's toolbar,
scene fields, dialogue rows, render settings, the render area and the history. Handlers
(app/story_tab.py) find every component by name on `StoryUI`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import gradio as gr

from app import engine_controls, quality_ui
from app.engine_settings import EngineSettings
from app.panel_form import MAX_BALLOONS, NARRATOR, SIZES, FormFields
from story.vocabulary import BALLOON_KINDS

QUEUE_REFRESH_S = 3.0
"""How often the queue note under the panel list is refreshed."""


@dataclass
class StoryUI:
    """Every component of the Story tab that a handler reads or writes."""

    project: gr.State
    loaded: gr.State          # the PanelView in the editor (its version guards saves)
    boxes: gr.State           # character name -> normalised box or None
    corner: gr.State          # first corner of a box being drawn, in preview pixels
    history_ids: gr.State     # render ids of the history gallery, in its order
    shown_render: gr.State    # the render the routing overlay is about (the selected one)
    jobs: gr.State            # ids of the render jobs the last render click queued
    strip: gr.Gallery
    add_btn: gr.Button
    dup_btn: gr.Button
    del_btn: gr.Button
    up_btn: gr.Button
    down_btn: gr.Button
    missing_btn: gr.Button
    queue_note: gr.Markdown
    queue_timer: gr.Timer
    confirm_box: gr.Group
    confirm_text: gr.HTML
    confirm_btn: gr.Button
    keep_btn: gr.Button
    title: gr.Markdown
    save_btn: gr.Button
    reload_btn: gr.Button
    render_btn: gr.Button
    rerender_btn: gr.Button
    variants_k: gr.Number
    variants_btn: gr.Button
    cancel_btn: gr.Button
    status: gr.HTML
    fields: FormFields
    preview: gr.Image
    box_for: gr.Dropdown
    clear_box: gr.Button
    dice: gr.Button
    reset_btn: Optional[gr.Button]
    show_routes: gr.Checkbox
    routes_row: gr.Row
    routes_image: gr.Image
    routes_legend: gr.HTML
    history: gr.Gallery
    drop_choice: gr.Dropdown
    drop_btn: gr.Button
    keep_best: gr.Checkbox        # the quality tools (app/quality_ui.py)
    history_likeness: gr.Markdown
    region_open: gr.State         # whether the 'Redo one region' panel is open
    region_box: gr.Accordion
    region_target: gr.Markdown
    region_editor: gr.ImageEditor
    region_sent: gr.ImageEditor   # hidden: the painting Redo sends (see quality_ui.wire)
    redo_btn: gr.Button

    @property
    def editor_inputs(self) -> set[Any]:
        """What a handler needs to save the open panel first: the open project and panel,
        the boxes and every field of the form."""
        return {self.project, self.loaded, self.boxes, *self.fields.all}


def _panel_list() -> dict[str, Any]:
    gr.Markdown("## Panels")
    parts: dict[str, Any] = {"strip": gr.Gallery(
        show_label=False, columns=2, height=460, allow_preview=False, object_fit="cover", elem_id="panel-strip")}
    with gr.Row():
        parts["add_btn"] = gr.Button("+ Add", size="sm", elem_id="add-panel")
        parts["dup_btn"] = gr.Button("Duplicate", size="sm", elem_id="duplicate-panel")
        parts["del_btn"] = gr.Button("Delete…", size="sm", variant="stop", elem_id="delete-panel")
    with gr.Row():
        parts["up_btn"] = gr.Button("▲ Move up", size="sm", elem_id="move-up")
        parts["down_btn"] = gr.Button("▼ Move down", size="sm", elem_id="move-down")
    with gr.Group(visible=False) as parts["confirm_box"]:
        parts["confirm_text"] = gr.HTML(padding=True, elem_id="confirm-delete-panel-text")
        with gr.Row():
            parts["confirm_btn"] = gr.Button("Yes, delete it", variant="stop", size="sm",
                                             elem_id="confirm-delete-panel")
            parts["keep_btn"] = gr.Button("Keep it", size="sm", elem_id="keep-panel")
    parts["missing_btn"] = gr.Button("Render missing panels", variant="primary", elem_id="render-missing")
    parts["queue_note"] = gr.Markdown(elem_id="queue-note")
    parts["queue_timer"] = gr.Timer(QUEUE_REFRESH_S)
    return parts


def _toolbar() -> dict[str, Any]:
    """Save and render at the top of the editor, where a 1366x768 screen shows them."""
    parts: dict[str, Any] = {"title": gr.Markdown("### Choose or add a panel", elem_id="panel-title")}
    with gr.Row(equal_height=True, elem_id="panel-toolbar"):
        parts["save_btn"] = gr.Button("Save panel", variant="primary", size="sm", min_width=90, elem_id="save-panel")
        parts["reload_btn"] = gr.Button("↻ Reload", size="sm", min_width=70, elem_id="reload-panel")
        parts["render_btn"] = gr.Button("Render", variant="primary", size="sm", min_width=70, elem_id="render-panel")
        parts["rerender_btn"] = gr.Button("Re-render (new seed)", size="sm", min_width=140, elem_id="rerender-panel")
        parts["variants_k"] = gr.Number(value=4, precision=0, minimum=2, maximum=16, label="K", show_label=False,
                                        scale=0, min_width=60, elem_id="variants-k")
        parts["variants_btn"] = gr.Button("Variants (K)", size="sm", min_width=90, elem_id="variants-panel")
        parts["keep_best"] = quality_ui.keep_best_toggle()
        parts["cancel_btn"] = gr.Button("Cancel", variant="stop", size="sm", min_width=70, elem_id="cancel-render")
    parts["status"] = gr.HTML(elem_id="render-status", min_height=40, padding=False)
    return parts


def _scene_fields() -> dict[str, Any]:
    return {
        "prompt": gr.Textbox(label="Scene", lines=3, elem_id="panel-prompt",
                             placeholder="Mira and the fox share a lantern under the old oak at dusk",
                             info="Name characters by name or alias: they join the panel, and their "
                                  "description is used."),
        "cast": gr.CheckboxGroup([], label="Characters in this panel", elem_id="panel-cast"),
        "caption": gr.Textbox(label="Caption", placeholder="That night, the forest was awake.",
                              elem_id="panel-caption"),
    }


def _dialogue_rows() -> dict[str, Any]:
    gr.Markdown("**Dialogue** — one balloon per line, in reading order")
    rows: dict[str, Any] = {}
    for i in range(MAX_BALLOONS):
        with gr.Row(equal_height=True):
            rows[f"speaker{i}"] = gr.Dropdown([NARRATOR], value=NARRATOR, show_label=False, scale=4, min_width=190,
                                              elem_id=f"balloon-speaker-{i}")
            rows[f"kind{i}"] = gr.Dropdown(list(BALLOON_KINDS), value="speech", show_label=False, scale=2,
                                           min_width=130, elem_id=f"balloon-kind-{i}")
            rows[f"text{i}"] = gr.Textbox(show_label=False, placeholder="What is said…", scale=5, min_width=160,
                                          elem_id=f"balloon-text-{i}")
    return rows


def _boxes_and_settings(settings: EngineSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The box preview and the render settings: (layout parts, form fields)."""
    parts: dict[str, Any] = {"preview": gr.Image(label="Boxes: pick a character, click two corners on the panel",
                                                 interactive=False, height=280, elem_id="panel-preview")}
    with gr.Row():
        parts["box_for"] = gr.Dropdown([], label="Box for", scale=3, min_width=170, elem_id="box-for")
        parts["clear_box"] = gr.Button("Clear box", size="sm", scale=1, min_width=80)
    fields: dict[str, Any] = {}
    with gr.Row():
        fields["seed"] = gr.Number(label="Seed", precision=0, minimum=0, scale=3, elem_id="panel-seed")
        parts["dice"] = gr.Button("New seed", size="sm", scale=1, min_width=60)
    fields["size"] = gr.Dropdown(list(SIZES), value=next(iter(SIZES)), label="Size", elem_id="panel-size")
    fields["steps"] = gr.Slider(1, 60, value=25, step=1, label="Steps", visible=settings.sampled, elem_id="panel-steps")
    fields["guidance"] = gr.Slider(0.0, 10.0, value=3.5, step=0.1, label="Guidance", visible=settings.sampled,
                                   elem_id="panel-guidance")
    advanced, parts["reset_btn"] = engine_controls.build(settings)
    fields.update({f"advanced{i}": control for i, control in enumerate(advanced)})
    return parts, fields


def _render_area() -> dict[str, Any]:
    parts: dict[str, Any] = {"show_routes": gr.Checkbox(
        False, label="Show where each character went", elem_id="show-routing",
        info="Each character's region of the panel's render, in the colour of its box.")}
    with gr.Row(visible=False, equal_height=False) as parts["routes_row"]:
        parts["routes_image"] = gr.Image(label="Where each character went", interactive=False, format="png",
                                         height=360, scale=3, elem_id="routing-overlay")
        parts["routes_legend"] = gr.HTML(elem_id="routing-legend", padding=True)
    gr.Markdown("**History** — click a render to use it in the story")
    parts["history"] = gr.Gallery(show_label=False, columns=6, height=220, allow_preview=False, fit_columns=False,
                                  object_fit="contain", elem_id="history")
    with gr.Row(equal_height=False):
        parts["drop_choice"] = gr.Dropdown([], label="Delete a render from the history", scale=3,
                                           info="Not the one the story uses: pick another render for it first.",
                                           elem_id="drop-render")
        parts["drop_btn"] = gr.Button("Delete render", size="sm", scale=1, min_width=110, elem_id="drop-render-button")
    parts.update(quality_ui.build_history_parts())
    return parts


def build_layout(project: gr.State, settings: EngineSettings) -> StoryUI:
    """Lay out the Story tab (inside the caller's gr.Tab)."""
    states = {"loaded": gr.State(None), "boxes": gr.State({}), "corner": gr.State(None),
              "history_ids": gr.State([]), "shown_render": gr.State(None), "jobs": gr.State([])}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            listing = _panel_list()
        with gr.Column(scale=5):
            toolbar = _toolbar()
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    fields = {**_scene_fields(), **_dialogue_rows()}
                with gr.Column(scale=2):
                    boxes, settings_fields = _boxes_and_settings(settings)
            render_area = _render_area()
    form = FormFields({**fields, **settings_fields}, settings.engine)
    return StoryUI(project=project, **states, **listing, **toolbar, **boxes, **render_area, fields=form)
