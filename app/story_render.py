"""The Story tab's render handlers: queue (saving the panel first), follow the jobs with one
progress bar on the status line, then refresh the open panel's history without touching
what the writer is typing; use or delete a render of the history; the routing overlay."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

import gradio as gr

from app import rendering
from app.common import Outputs, inform, need_panel, need_project, user_errors
from app.routing_view import routing_view
from story import panels, renders
from story.views import PanelView

if TYPE_CHECKING:
    from app.story_tab import StoryTab


class RenderHandlers:
    """Render, Re-render, Variants, Render missing, Cancel, the history and the overlay."""

    def __init__(self, tab: "StoryTab") -> None:
        self.tab, self.ui, self.ctx = tab, tab.ui, tab.ctx

    def no_jobs(self) -> Outputs:
        return {self.ui.jobs: []}

    def queuer(self, seed: str, variants_from_k: bool) -> Callable[[dict], Outputs]:
        """The handler of Render ("same" seed), Re-render ("new") or Variants (K, new seeds):
        save the panel, queue its jobs, return at once (waiting is the next step)."""
        @user_errors(fallback=lambda *_: self.no_jobs())
        def queue_render(data: dict) -> Outputs:
            view = self.tab.save(data) or need_panel(data[self.ui.loaded])
            count = max(2, int(data[self.ui.variants_k] or 2)) if variants_from_k else 1
            ids = rendering.queue_panel(self.ctx, view, seed, count)
            waiting = f"<p>Panel {view.number}: {count} render(s) queued…</p>"
            return {**self.tab.cast_parts(view), self.ui.jobs: ids, self.ui.status: waiting}
        return queue_render

    @user_errors(fallback=lambda self, *_: self.no_jobs())
    def queue_missing(self, project_id: Optional[int]) -> Outputs:
        """Render missing panels: queue every panel of the story without a render."""
        return {self.ui.jobs: rendering.queue_missing(self.ctx, need_project(project_id))}

    @user_errors(fallback=lambda self, *_: self.no_jobs())
    def wait(self, ids: list[int], progress: gr.Progress = gr.Progress()) -> Outputs:
        """Follow the queued jobs on the status line (the only place with a progress bar)."""
        rendering.wait_for(self.ctx, list(ids or []), progress)
        return {self.ui.jobs: []}

    @user_errors
    def after(self, data: dict) -> Outputs:
        """Refresh whatever panel is open now (the writer may have moved on): list, history,
        status; its seed when the render the story uses changed it. Text fields stay as typed."""
        ui = self.ui
        project_id, view = data[ui.project], data[ui.loaded]
        if not project_id:
            return gr.skip()
        fresh = panels.get_panel(self.ctx.studio, view.id) if view else None
        out = {**self.tab.listing(project_id, fresh.position if fresh else None)}
        out.pop(ui.fields["cast"])  # choices unchanged; keeps the writer's ticks as they are
        if fresh is None:
            return out
        out.update(self.tab.render_parts(fresh, data[ui.boxes], data[ui.fields["size"]]))
        if fresh.version == view.version:  # no content edit since loading: only selection and seed moved
            out[ui.loaded] = fresh
            if fresh.seed != view.seed:
                out[ui.fields["seed"]] = fresh.seed
        return out

    @user_errors
    def cancel(self, project_id: Optional[int], view: Optional[PanelView]) -> None:
        rendering.cancel(self.ctx, need_project(project_id), view.id if view else None)

    @user_errors
    def use(self, data: dict, evt: gr.SelectData) -> Outputs:
        """A click on a render of the history: the story uses it (the panel takes its seed)."""
        self.tab.leave(data)
        view = need_panel(data[self.ui.loaded])
        render_id = data[self.ui.history_ids][evt.index]
        renders.select_render(self.ctx.studio, view.id, render_id)
        inform(f"Panel {view.number} now uses render #{render_id}.")
        return self.tab.show(data[self.ui.project], view.id)

    @user_errors
    def drop(self, view: Optional[PanelView], render_id: Optional[int], box_map: dict, size: str) -> Outputs:
        """Delete a render from the history (never the one the story uses)."""
        view = need_panel(view)
        if render_id is None:
            raise gr.Error("Choose a render to delete first.", print_exception=False)
        renders.delete_render(self.ctx.studio, view.id, int(render_id))
        inform(f"Render #{render_id} deleted from panel {view.number}'s history.")
        return self.tab.render_parts(panels.get_panel(self.ctx.studio, view.id), box_map, size)

    @user_errors
    def routing(self, render_id: Optional[int], on: bool) -> Outputs:
        ui = self.ui
        if not on:
            return {ui.routes_row: gr.update(visible=False)}
        picture, legend = routing_view(self.ctx.studio, render_id)
        return {ui.routes_row: gr.update(visible=True), ui.routes_image: picture, ui.routes_legend: legend}

    @user_errors
    def queue_note(self, project_id: Optional[int]) -> Outputs:
        return {self.ui.queue_note: rendering.queue_note(self.ctx, project_id)}
