"""The Story tab: the panels in order, the panel editor (prompt, cast with boxes, caption,
dialogue, render settings), rendering with progress and Cancel, and the render history."""
from __future__ import annotations

from typing import Any, Optional

import gradio as gr
from PIL import Image

from app.common import asset_file, need_project, short, ui_picture, user_errors
from app.context import AppContext
from app.engine_settings import EngineSettings
from app.overlay import boxes_overlay, panel_canvas
from app.panel_form import MAX_BALLOONS, NARRATOR, SIZES, PanelForm, parse_size
from app.routing_view import routing_view
from app import engine_controls, quality_ui, rendering
from story import panels, projects, renders
from story.errors import InvalidInput
from story.models import BALLOON_KINDS
from story.views import PanelView


def strip_items(ctx: AppContext, project_id: Optional[int]) -> list[tuple[str, str]]:
    """(thumbnail, caption) of every panel in story order."""
    if not project_id:
        return []
    return [
        (asset_file(ctx.studio, p.selected_image_hash) or ui_picture("not_rendered.png"),
         f"{p.number} · {short(p.caption or p.prompt, 40) or 'empty panel'}")
        for p in panels.list_panels(ctx.studio, project_id)
    ]


def panel_base(ctx: AppContext, view: Optional[PanelView], size: str) -> Image.Image:
    """The picture boxes are drawn on: the panel's selected render, else a blank of its size."""
    if view is not None and view.selected_image_hash:
        image = ctx.studio.assets.open(view.selected_image_hash)
        image.thumbnail((640, 640))
        return image
    return panel_canvas(*parse_size(size))


def history_items(ctx: AppContext, view: PanelView) -> tuple[list[tuple[str, str]], list[int], Optional[int]]:
    """Finished renders of a panel (newest first) with captions, their ids, and the index of
    the one the story uses."""
    done = [r for r in reversed(renders.list_renders(ctx.studio, view.id)) if r.status == "done" and r.image_hash]
    items = []
    for r in done:
        took = f" · {r.duration_s:.1f} s" if r.duration_s is not None else ""
        star = "★ in story · " if r.id == view.selected_render_id else ""
        items.append((asset_file(ctx.studio, r.image_hash),
                      f"{star}#{r.id}{quality_ui.history_label(r)} · seed {r.seed} · {r.engine}{took}"))
    ids = [r.id for r in done]
    selected = ids.index(view.selected_render_id) if view.selected_render_id in ids else None
    return items, ids, selected


def choice_updates(ctx: AppContext, project_id: Optional[int]) -> list[Any]:
    """New choices for the cast checkboxes and the balloon speakers."""
    names = [c.name for c in projects.get_project(ctx.studio, project_id).characters] if project_id else []
    return [gr.update(choices=names)] + [gr.update(choices=[NARRATOR] + names)] * MAX_BALLOONS


@user_errors
def listing_values(ctx: AppContext, project_id: Optional[int]) -> list[Any]:
    """The panel list, queue note and character choices (not the editor: the writer may be
    mid-edit when switching tabs)."""
    return [strip_items(ctx, project_id), rendering.queue_note(ctx)] + choice_updates(ctx, project_id)


LISTING_OUTPUTS = 2 + 1 + MAX_BALLOONS
"""How many of build()'s outputs listing_values fills."""


def build(ctx: AppContext, project: gr.State) -> Any:
    """Lay out the Story tab and wire its events; returns its refresh function and outputs."""
    loaded = gr.State(None)      # the PanelView in the editor (its version guards saves)
    boxes = gr.State({})         # character name -> normalised box or None
    corner = gr.State(None)      # first corner of a box being drawn, in preview pixels
    history_ids = gr.State([])
    shown_render = gr.State(None)  # the render the routing overlay is about (the selected one)
    settings = EngineSettings.of(ctx.engine_name())
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            gr.Markdown("## Panels")
            strip = gr.Gallery(label="Story", columns=2, height=520, allow_preview=False,
                               object_fit="cover", elem_id="panel-strip")
            with gr.Row():
                add_btn = gr.Button("+ Add", size="sm", elem_id="add-panel")
                dup_btn = gr.Button("Duplicate", size="sm", elem_id="duplicate-panel")
                del_btn = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-panel")
            with gr.Row():
                up_btn = gr.Button("▲ Move up", size="sm", elem_id="move-up")
                down_btn = gr.Button("▼ Move down", size="sm", elem_id="move-down")
            missing_btn = gr.Button("Render missing panels", variant="primary", elem_id="render-missing")
            queue_note = gr.Markdown(elem_id="queue-note")
        with gr.Column(scale=5):
            title = gr.Markdown("### Choose or add a panel", elem_id="panel-title")
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    prompt = gr.Textbox(label="Scene", lines=3, elem_id="panel-prompt",
                                        placeholder="Mira and the fox share a lantern under the old oak at dusk",
                                        info="Mention characters by name or alias; their description is used.")
                    cast = gr.CheckboxGroup([], label="Characters in this panel", elem_id="panel-cast")
                    caption = gr.Textbox(label="Caption", placeholder="That night, the forest was awake.",
                                         elem_id="panel-caption")
                    gr.Markdown("**Dialogue** — one balloon per line, in reading order")
                    speakers, kinds, texts = [], [], []
                    for i in range(MAX_BALLOONS):
                        with gr.Row(equal_height=True):
                            speakers.append(gr.Dropdown([NARRATOR], value=NARRATOR, show_label=False,
                                                        scale=3, min_width=150, elem_id=f"balloon-speaker-{i}"))
                            kinds.append(gr.Dropdown(list(BALLOON_KINDS), value="speech", show_label=False,
                                                     scale=2, min_width=120, elem_id=f"balloon-kind-{i}"))
                            texts.append(gr.Textbox(show_label=False, placeholder="What is said…", scale=5,
                                                    elem_id=f"balloon-text-{i}"))
                with gr.Column(scale=2):
                    preview = gr.Image(label="Boxes: pick a character, click two corners on the panel",
                                       interactive=False, height=300, elem_id="panel-preview")
                    with gr.Row():
                        box_for = gr.Dropdown([], label="Box for", scale=2, elem_id="box-for")
                        clear_box = gr.Button("Clear box", size="sm", scale=1)
                    with gr.Row():
                        seed = gr.Number(label="Seed", precision=0, minimum=0, scale=3, elem_id="panel-seed")
                        dice = gr.Button("New seed", size="sm", scale=1, min_width=60)
                    size = gr.Dropdown(list(SIZES), value=next(iter(SIZES)), label="Size", elem_id="panel-size")
                    steps = gr.Slider(1, 60, value=25, step=1, label="Steps")
                    guidance = gr.Slider(0.0, 10.0, value=3.5, step=0.1, label="Guidance")
                    advanced, reset_btn = engine_controls.build(settings)
            with gr.Row():
                save_btn = gr.Button("Save panel", elem_id="save-panel")
                reload_btn = gr.Button("↻ Reload", elem_id="reload-panel")
            with gr.Row(equal_height=True):
                render_btn = gr.Button("Render", variant="primary", elem_id="render-panel")
                rerender_btn = gr.Button("Re-render (new seed)", elem_id="rerender-panel")
                variants_k = gr.Number(value=4, precision=0, minimum=2, maximum=16, label="K",
                                       scale=0, min_width=70, elem_id="variants-k")
                variants_btn = gr.Button("Variants", elem_id="variants-panel")
                keep_best = quality_ui.keep_best_toggle()
                cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cancel-render")
            status = gr.Markdown(elem_id="render-status")
            show_routes = gr.Checkbox(False, label="Show where each character went", elem_id="show-routing",
                                      info="Each character's region of the panel's render, in the colour of its box.")
            with gr.Row(visible=False, equal_height=False) as routes_row:
                routes_image = gr.Image(label="Where each character went", interactive=False, format="png",
                                        height=360, scale=3, elem_id="routing-overlay")
                routes_legend = gr.HTML(elem_id="routing-legend", padding=True)
            history = gr.Gallery(label="History — click a render to use it in the story", columns=6,
                                 height=220, allow_preview=False, fit_columns=False, object_fit="contain", elem_id="history")
            history_likeness = gr.Markdown(elem_id="history-likeness")
            region_box, region_editor, redo_btn = quality_ui.build_region_editor()

    widgets = [prompt, cast, caption, *speakers, *kinds, *texts, seed, size, steps, guidance, *advanced]
    editor = [loaded, title, *widgets, boxes, corner, box_for, preview, history, history_ids, status, shown_render]
    listing = [strip, queue_note]

    def blank_editor():
        return [None, "### Choose or add a panel", *PanelForm.blank(settings.engine).widget_values(), {}, None,
                gr.update(choices=[], value=None), None, [], [], "", None]

    def editor_values(view: PanelView) -> list[Any]:
        shown = projects.get_project(ctx.studio, view.project_id)
        form = PanelForm.of(view, shown.render_defaults, settings.engine)
        box_map = {c.name: c.box for c in view.characters}
        items, ids, selected = history_items(ctx, view)
        base = panel_base(ctx, view, form.size)
        title_text = f"### Panel {view.number} of {len(shown.panels)}"
        return [view, title_text, *form.widget_values(), box_map, None,
                gr.update(choices=list(box_map), value=next(iter(box_map), None)),
                boxes_overlay(base, list(box_map.items())),
                gr.update(value=items, selected_index=selected), ids, rendering.failure_note(ctx, view),
                view.selected_render_id]

    choice_outputs = [cast, *speakers]

    @user_errors
    def refresh(project_id: Optional[int]):
        """A newly opened story shows its first panel in the editor."""
        first = panels.list_panels(ctx.studio, project_id)[:1] if project_id else []
        if first:
            return show_panel(project_id, first[0].id)
        return listing_values(ctx, project_id) + blank_editor()

    def show_panel(project_id: Optional[int], panel_id: int):
        view = panels.get_panel(ctx.studio, panel_id)
        index = view.position
        return ([gr.update(value=strip_items(ctx, project_id), selected_index=index), rendering.queue_note(ctx)]
                + choice_updates(ctx, project_id) + editor_values(view))

    all_outputs = listing + choice_outputs + editor

    @user_errors
    def pick(project_id: Optional[int], evt: gr.SelectData):
        return show_panel(project_id, panels.panel_id_at(ctx.studio, need_project(project_id), evt.index + 1))

    @user_errors
    def add(project_id: Optional[int], view: Optional[PanelView]):
        position = view.position + 1 if view else None
        added = panels.add_panel(ctx.studio, need_project(project_id), position=position)
        return show_panel(project_id, added.id)

    def need_panel(view: Optional[PanelView]) -> PanelView:
        if view is None:
            raise gr.Error("Choose a panel in the list first.", print_exception=False)
        return view

    @user_errors
    def duplicate(project_id: Optional[int], view: Optional[PanelView]):
        return show_panel(project_id, panels.duplicate_panel(ctx.studio, need_panel(view).id).id)

    @user_errors
    def delete(project_id: Optional[int], view: Optional[PanelView]):
        view = need_panel(view)
        panels.delete_panel(ctx.studio, view.id, expected_version=view.version)
        gr.Info(f"Panel {view.number} deleted.")
        return refresh(project_id)

    def mover(step: int):
        @user_errors
        def move(project_id: Optional[int], view: Optional[PanelView]):
            view = need_panel(view)
            panels.move_panel(ctx.studio, view.id, view.position + step)
            return show_panel(project_id, view.id)
        return move

    def save(view: Optional[PanelView], box_map: dict, values: list[Any]) -> PanelView:
        """Write what the writer changed since loading; a stale version raises Conflict."""
        view = need_panel(view)
        shown = projects.get_project(ctx.studio, view.project_id)
        form = PanelForm.from_widgets(values, settings.engine)
        before = PanelForm.of(view, shown.render_defaults, settings.engine)
        version = view.version
        changes = {k: getattr(form, k) for k in ("prompt", "caption", "seed") if getattr(form, k) != getattr(before, k)}
        overrides = form.overrides(view.overrides, before)
        if overrides != view.overrides:
            changes["overrides"] = overrides
        if changes:
            version = panels.update_panel(ctx.studio, view.id, expected_version=version, **changes).version
        wanted = [(name, box_map.get(name)) for name in form.cast]
        if wanted != [(c.name, c.box) for c in view.characters]:
            version = panels.set_panel_characters(ctx.studio, view.id, wanted, expected_version=version).version
        if form.balloons != before.balloons:
            version = panels.set_dialogue(ctx.studio, view.id, form.dialogue(), expected_version=version).version
        return panels.get_panel(ctx.studio, view.id)

    @user_errors
    def save_clicked(project_id: Optional[int], view: Optional[PanelView], box_map: dict, *values: Any):
        saved = save(view, box_map, list(values))
        gr.Info(f"Panel {saved.number} saved.")
        return show_panel(project_id, saved.id)

    @user_errors
    def reload(project_id: Optional[int], view: Optional[PanelView]):
        return show_panel(project_id, need_panel(view).id)

    def render_with(seed_choice: Any, variants_from_k: bool):
        @user_errors
        def run(project_id: Optional[int], view: Optional[PanelView], box_map: dict, k: Any, keep: bool,
                *values: Any, progress: gr.Progress = gr.Progress()):
            saved = save(view, box_map, list(values))
            count = max(2, int(k or 2)) if variants_from_k else 1
            finished = rendering.render_panel(ctx, saved, seed_choice, count, progress)
            if keep and count > 1:
                quality_ui.keep_best(ctx, finished)
            return show_panel(project_id, saved.id)
        return run

    @user_errors
    def render_missing(project_id: Optional[int], view: Optional[PanelView], progress: gr.Progress = gr.Progress()):
        rendering.render_missing(ctx, need_project(project_id), progress)
        return show_panel(project_id, view.id) if view else refresh(project_id)

    @user_errors
    def redo_region(project_id: Optional[int], view: Optional[PanelView], painted: Any,
                    progress: gr.Progress = gr.Progress()):
        quality_ui.redo_region(ctx, need_panel(view), painted, progress)
        return show_panel(project_id, view.id)

    @user_errors
    def cancel(project_id: Optional[int], view: Optional[PanelView]):
        rendering.cancel(ctx, need_project(project_id), view.id if view else None)

    @user_errors
    def use_render(project_id: Optional[int], view: Optional[PanelView], ids: list[int], evt: gr.SelectData):
        view = need_panel(view)
        renders.select_render(ctx.studio, view.id, ids[evt.index])
        gr.Info(f"Panel {view.number} now uses render #{ids[evt.index]}.")
        return show_panel(project_id, view.id)

    def cast_changed(view: Optional[PanelView], names: list[str], box_map: dict, size_: str):
        box_map = {name: box_map.get(name) for name in names or []}
        base = panel_base(ctx, view, size_)
        return (box_map, gr.update(choices=list(box_map), value=next(iter(box_map), None)),
                boxes_overlay(base, list(box_map.items())))

    @user_errors
    def preview_clicked(view: Optional[PanelView], box_map: dict, first: Any, name: Optional[str], size_: str,
                        evt: gr.SelectData):
        if not name:
            raise gr.Error("Tick a character in the panel and choose it under “Box for” first.", print_exception=False)
        base = panel_base(ctx, view, size_)
        x, y = float(evt.index[0]), float(evt.index[1])
        if first is None:
            return box_map, (x, y), boxes_overlay(base, list(box_map.items()), corner=(x, y))
        (x0, x1), (y0, y1) = sorted((first[0], x)), sorted((first[1], y))
        box = (x0 / base.width, y0 / base.height, min(1.0, x1 / base.width), min(1.0, y1 / base.height))
        if box[2] - box[0] < 0.02 or box[3] - box[1] < 0.02:
            raise InvalidInput("That box is too small; click two opposite corners further apart.")
        box_map = {**box_map, name: box}
        return box_map, None, boxes_overlay(base, list(box_map.items()))

    def box_cleared(view: Optional[PanelView], box_map: dict, name: Optional[str], size_: str):
        box_map = {**box_map, name: None} if name else box_map
        return box_map, None, boxes_overlay(panel_base(ctx, view, size_), list(box_map.items()))

    @user_errors
    def show_routing(render_id: Optional[int], on: bool):
        if not on:
            return gr.update(visible=False), gr.skip(), gr.skip()
        picture, legend = routing_view(ctx.studio, render_id)
        return gr.update(visible=True), picture, legend

    def reset_settings(names: list[str]):
        return settings.widget_values(settings.shown({}, len(names or [])))

    pv = [project, loaded]
    project.change(refresh, project, all_outputs)
    strip.select(pick, project, all_outputs)
    add_btn.click(add, pv, all_outputs)
    dup_btn.click(duplicate, pv, all_outputs)
    del_btn.click(delete, pv, all_outputs)
    up_btn.click(mover(-1), pv, all_outputs)
    down_btn.click(mover(1), pv, all_outputs)
    save_btn.click(save_clicked, pv + [boxes] + widgets, all_outputs)
    reload_btn.click(reload, pv, all_outputs)
    render_inputs = pv + [boxes, variants_k, keep_best] + widgets
    # Waiting for renders only polls the database: no concurrency limit, so one tab's long
    # render never holds up another tab (the worker thread runs the jobs one after another).
    render_btn.click(render_with("same", False), render_inputs, all_outputs, concurrency_limit=None)
    rerender_btn.click(render_with("new", False), render_inputs, all_outputs, concurrency_limit=None)
    variants_btn.click(render_with("new", True), render_inputs, all_outputs, concurrency_limit=None)
    missing_btn.click(render_missing, pv, all_outputs, concurrency_limit=None)
    cancel_btn.click(cancel, pv, None, concurrency_limit=None)
    redo_btn.click(redo_region, pv + [region_editor], all_outputs, concurrency_limit=None, show_progress_on=[status])
    history.select(use_render, pv + [history_ids], all_outputs)
    cast.input(cast_changed, [loaded, cast, boxes, size], [boxes, box_for, preview])
    size.input(cast_changed, [loaded, cast, boxes, size], [boxes, box_for, preview])
    preview.select(preview_clicked, [loaded, boxes, corner, box_for, size], [boxes, corner, preview])
    clear_box.click(box_cleared, [loaded, boxes, box_for, size], [boxes, corner, preview])
    dice.click(lambda: panels.new_seed(), None, seed)
    routes = [routes_row, routes_image, routes_legend]
    show_routes.change(show_routing, [shown_render, show_routes], routes)
    shown_render.change(show_routing, [shown_render, show_routes], routes)
    shown_render.change(lambda: gr.Accordion(open=False), None, region_box)
    region_box.expand(lambda render_id: quality_ui.editor_picture(ctx, render_id), shown_render, region_editor)
    history_ids.change(lambda ids: quality_ui.likeness_lines(ctx, ids), history_ids, history_likeness)
    if reset_btn is not None:
        reset_btn.click(reset_settings, cast, advanced)
    return refresh, all_outputs
