"""Which Story tab event runs which handler, with which inputs and outputs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from app import quality_ui
from app.story_boxes import BoxHandlers
from app.story_render import RenderHandlers

if TYPE_CHECKING:
    from app.story_layout import StoryUI
    from app.story_tab import StoryTab


def editor_outputs(ui: "StoryUI") -> set:
    """Every component a handler may write (handlers return only the ones they change)."""
    return {ui.strip, ui.queue_note, ui.loaded, ui.title, *ui.fields.all, ui.boxes, ui.corner, ui.box_for,
            ui.preview, ui.history, ui.history_ids, ui.status, ui.shown_render, ui.drop_choice, ui.confirm_box}


def _wire_list(tab: "StoryTab") -> None:
    ui, everything = tab.ui, editor_outputs(tab.ui)
    ui.project.change(tab.opened, ui.editor_inputs, everything)
    ui.strip.select(tab.pick, ui.editor_inputs, everything)
    ui.add_btn.click(tab.add, ui.editor_inputs, everything)
    ui.dup_btn.click(tab.duplicate, ui.editor_inputs, everything)
    ui.up_btn.click(tab.mover(-1), ui.editor_inputs, everything)
    ui.down_btn.click(tab.mover(1), ui.editor_inputs, everything)
    ui.del_btn.click(tab.ask_delete, ui.loaded, {ui.confirm_box, ui.confirm_text})
    ui.keep_btn.click(tab.keep, None, {ui.confirm_box})
    ui.confirm_btn.click(tab.delete, [ui.project, ui.loaded], everything)


def _wire_editor(tab: "StoryTab") -> None:
    ui, everything = tab.ui, editor_outputs(tab.ui)
    ui.save_btn.click(tab.save_clicked, ui.editor_inputs, everything)
    ui.reload_btn.click(tab.reload, [ui.project, ui.loaded], everything)
    ui.dice.click(tab.new_seed, None, {ui.fields["seed"]})
    if ui.reset_btn is not None:
        advanced = {c for k, c in ui.fields.components.items() if k.startswith("advanced")}
        ui.reset_btn.click(tab.reset_settings, ui.fields["cast"], advanced)
    boxes = BoxHandlers(tab)
    drawn = {ui.boxes, ui.corner, ui.preview, ui.box_for}
    cast_inputs = [ui.loaded, ui.fields["cast"], ui.boxes, ui.fields["size"]]
    ui.fields["cast"].input(boxes.cast_changed, cast_inputs, drawn)
    ui.fields["size"].input(boxes.cast_changed, cast_inputs, drawn)
    ui.preview.select(boxes.clicked, [ui.loaded, ui.boxes, ui.corner, ui.box_for, ui.fields["size"]], drawn)
    ui.clear_box.click(boxes.cleared, [ui.loaded, ui.boxes, ui.box_for, ui.fields["size"]], drawn)


def _wire_render(tab: "StoryTab") -> None:
    """Queue (saving first), then wait with the progress bar on the status line only, then
    refresh the panel open by then. Waiting only polls the database: no concurrency limit, so
    one tab's long render never holds up another tab."""
    ui, everything = tab.ui, editor_outputs(tab.ui)
    run = RenderHandlers(tab)
    after_inputs = {ui.project, ui.loaded, ui.boxes, ui.fields["size"]}
    for button, queuer in ((ui.render_btn, run.queuer("same", False)), (ui.rerender_btn, run.queuer("new", False)),
                           (ui.variants_btn, run.queuer("new", True)), (ui.missing_btn, None)):
        if queuer is None:
            event = button.click(run.queue_missing, ui.project, {ui.jobs}, show_progress="hidden")
        else:
            event = button.click(queuer, ui.editor_inputs | {ui.variants_k}, everything | {ui.jobs},
                                 show_progress="hidden")
        waiter, wait_inputs = ((quality_ui.keep_best_waiter(tab, run.wait), [ui.jobs, ui.keep_best])
                               if button is ui.variants_btn else (run.wait, ui.jobs))
        (event.then(waiter, wait_inputs, {ui.jobs}, show_progress_on=ui.status, concurrency_limit=None)
         .then(run.after, after_inputs, everything, show_progress="hidden"))
    quality_ui.wire(tab, run, after_inputs, everything)
    ui.cancel_btn.click(run.cancel, [ui.project, ui.loaded], None, concurrency_limit=None)
    ui.history.select(run.use, ui.editor_inputs | {ui.history_ids}, everything)
    ui.drop_btn.click(run.drop, [ui.loaded, ui.drop_choice, ui.boxes, ui.fields["size"]], everything)
    routes = {ui.routes_row, ui.routes_image, ui.routes_legend}
    ui.show_routes.change(run.routing, [ui.shown_render, ui.show_routes], routes)
    ui.shown_render.change(run.routing, [ui.shown_render, ui.show_routes], routes)
    ui.queue_timer.tick(run.queue_note, ui.project, {ui.queue_note}, show_progress="hidden")


def wire(tab: "StoryTab") -> None:
    """Connect every event of the Story tab."""
    _wire_list(tab)
    _wire_editor(tab)
    _wire_render(tab)
