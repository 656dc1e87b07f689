"""The Story tab's quality tools: likeness on the history and in the routing legend, the
"keep the best" toggle for variants, and redoing a painted region of the panel's render
(gr.ImageEditor). Presentation and handlers only; the work is story.likeness and
story.region_redo."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Callable, Optional

import gradio as gr
import numpy as np
from PIL import Image

from app import rendering
from app.common import Outputs, inform, need_panel, user_errors
from app.context import AppContext
from app.editor_handoff import hand_over, sent_copy
from story import likeness, queue, region_redo, renders
from story.errors import InvalidInput
from story.views import PanelView, RenderView

if TYPE_CHECKING:
    from app.story_tab import StoryTab

EDITOR_SIDE = 768
"""Longest side of the render shown for painting (the painted region is scaled back)."""


def history_label(render: RenderView) -> str:
    """What a history caption adds: the lowest character likeness, a warning for a likely
    blend, and '↻ region' for a region redo."""
    scores = [s["score"] for s in render.likeness.get("subjects", [])]
    text = f" · likeness {min(scores):.2f}" if scores else ""
    if render.likeness.get("flags"):
        text += " ⚠ blend?"
    return text + (" · ↻ region" if render.parent_render_id is not None else "")


def likeness_lines(ctx: AppContext, render_ids: list[int]) -> str:
    """Under the history: each finished render's likeness per character and its flags."""
    lines = []
    for render in (renders.get_render(ctx.studio, i) for i in render_ids or []):
        text = likeness.summary(render.likeness)
        if text:
            redo = f" (region redo of #{render.parent_render_id})" if render.parent_render_id is not None else ""
            lines.append(f"- **#{render.id}**{redo}: {html.escape(text)}")
    return "**Likeness to the references** (1 = alike)\n" + "\n".join(lines) if lines else ""


def legend_notes(render: RenderView) -> list[str]:
    """Per subject of the render, its likeness for the routing legend ('' without a score)."""
    scores = [s["score"] for s in render.likeness.get("subjects", [])]
    subjects = render.params.get("subjects", [])
    return [f"likeness {scores[i]:.2f}" if i < len(scores) else "" for i in range(len(subjects))]


def flags_html(render: RenderView) -> str:
    """The blend flags as a warning line under the legend ('' when there are none)."""
    flags = render.likeness.get("flags") or []
    if not flags:
        return ""
    return '<p class="likeness-flags">⚠ Likely blend: ' + html.escape("; ".join(flags)) + ".</p>"


def keep_best_toggle() -> gr.Checkbox:
    """The toggle next to Variants: select the variant whose least-like character is most alike."""
    return gr.Checkbox(False, label="Keep the best", scale=0, min_width=120, elem_id="keep-best", container=False)


def build_history_parts() -> dict[str, Any]:
    """Under the history: the likeness list and the closed 'Redo one region' panel (a line
    naming the render it shows, that render to paint on, the button, and the hidden copy of
    the painting that Redo sends)."""
    parts: dict[str, Any] = {"history_likeness": gr.Markdown(elem_id="history-likeness"),
                             "region_open": gr.State(False)}
    with gr.Accordion("Redo one region", open=False, elem_id="region-redo") as parts["region_box"]:
        gr.Markdown("Paint over the part of the panel's render to draw again (new seed); the rest "
                    "stays exactly as it is. The result is a new render in the history, and the "
                    "panel below shows it, ready for the next region.")
        parts["region_target"] = gr.Markdown(elem_id="region-target")
        parts["region_editor"] = gr.ImageEditor(
            type="pil", label="Paint the region", sources=(), height=420, layers=False, transforms=(),
            format="png", brush=gr.Brush(colors=["#ff3366"], default_size=40, color_mode="fixed"),
            elem_id="region-editor")
        parts["redo_btn"] = gr.Button("Redo the painted region", elem_id="redo-region")
        parts["region_sent"] = sent_copy(parts["region_editor"])  # what Redo sends
    return parts


def keep_best(ctx: AppContext, finished: list[RenderView]) -> None:
    """Select the best of the finished variants and say which."""
    best = likeness.keep_best(ctx.studio, [j.id for j in finished])
    if best is None:
        inform("No variant has a likeness score (no characters drawn), so none was picked.")
    else:
        inform(f"Kept the best variant: render #{best.id} ({likeness.summary(best.likeness)}).")


def keep_best_waiter(tab: "StoryTab", wait: Callable[..., Outputs]) -> Callable[..., Outputs]:
    """The Variants button's wait step: wait for the jobs, then, with Keep the best ticked,
    select the best of them (before the history is refreshed)."""
    def wait_then_keep(ids: list[int], keep: bool, progress: gr.Progress = gr.Progress()) -> Outputs:
        ids = list(ids or [])
        out = wait(ids, progress)
        finished = [j for j in queue.jobs(tab.ctx.studio, ids) if j.finished] if ids and keep else []
        if finished:
            keep_best(tab.ctx, finished)
        return out
    return wait_then_keep


def editor_picture(ctx: AppContext, render_id: Optional[int]) -> Optional[Image.Image]:
    """The render to paint on (the one the story uses), or an empty editor."""
    if render_id is None:
        return None
    render = renders.get_render(ctx.studio, render_id)
    if render.image_hash is None:
        return None
    picture = ctx.studio.assets.open(render.image_hash).convert("RGB")
    picture.thumbnail((EDITOR_SIDE, EDITOR_SIDE))
    return picture


def target_note(render_id: Optional[int]) -> str:
    """Above the editor: which render a stroke is painted on."""
    if render_id is None:
        return "No render to paint on yet."
    return f"Painting on render **#{render_id}**, the one the story uses."


def painted_mask(value: Any) -> Image.Image:
    """The painted strokes of an ImageEditor value as a mask (white = painted)."""
    layers = [layer for layer in (value or {}).get("layers") or [] if layer is not None]
    painted = None
    for layer in layers:
        alpha = np.asarray(layer.convert("RGBA"))[..., 3] > 0
        painted = alpha if painted is None else painted | alpha
    if painted is None or not painted.any():
        raise InvalidInput("Paint the region to redo on the render first.")
    return Image.fromarray((painted * 255).astype(np.uint8), "L")


def queue_region(ctx: AppContext, view: Optional[PanelView], render_id: Optional[int], value: Any) -> list[int]:
    """Queue a redo of the painted region of `render_id` (the render the editor shows: the
    one the open panel uses); the job's id."""
    view = need_panel(view)
    if render_id is None:
        raise InvalidInput(f"Panel {view.number} has no render yet: render it first.")
    rendering.check_engine(ctx)
    job = region_redo.enqueue_region(ctx.studio, render_id, painted_mask(value), engine=ctx.engine_name())
    return [job.id]


class RegionHandlers:
    """The 'Redo one region' panel's handlers: load the story's render when the panel opens
    and again, fresh and unpainted, whenever that render changes while it is open (after a
    redo: the new render, ready for the next region); queue the painted region."""

    def __init__(self, tab: "StoryTab") -> None:
        self.ui, self.ctx = tab.ui, tab.ctx

    def opened(self, render_id: Optional[int]) -> Outputs:
        return {self.ui.region_open: True, **self.reloaded(render_id, True)}

    def closed(self) -> Outputs:
        return {self.ui.region_open: False}

    def reloaded(self, render_id: Optional[int], is_open: bool) -> Outputs:
        """The render to paint on while the panel is open; nothing while it is closed (it
        loads when opened: no picture is sent to a hidden editor)."""
        if not is_open:
            return gr.skip()  # Gradio takes an empty dict for "no outputs" only where there are none
        return {self.ui.region_editor: editor_picture(self.ctx, render_id),
                self.ui.region_target: target_note(render_id)}

    @user_errors(fallback=lambda self, *_: {self.ui.jobs: []})
    def queue_redo(self, view: Optional[PanelView], render_id: Optional[int], value: Any) -> Outputs:
        ids = queue_region(self.ctx, view, render_id, value)
        return {self.ui.jobs: ids, self.ui.status: f"<p>Panel {view.number}: region redo queued…</p>"}


def wire(tab: "StoryTab", run: Any, after_inputs: set, everything: set) -> None:
    """Connect the quality tools' events: the likeness list follows the history, the region
    panel shows the story's render while open, and Redo queues, waits and refreshes like the
    render buttons (the refresh brings the new render into the open panel)."""
    ui, ctx = tab.ui, tab.ctx
    region = RegionHandlers(tab)
    ui.history_ids.change(lambda ids: likeness_lines(ctx, ids), ui.history_ids, ui.history_likeness)
    # the editor is never a server event's input, and statuses go to a State: otherwise Gradio
    # re-reads it on every later event of the page (app.editor_handoff)
    quiet = {"show_progress": "hidden", "show_progress_on": ui.region_open}
    shown = {ui.region_editor, ui.region_target}
    ui.region_box.expand(region.opened, ui.shown_render, {ui.region_open, *shown}, **quiet)
    ui.region_box.collapse(region.closed, None, {ui.region_open}, **quiet)
    ui.shown_render.change(region.reloaded, [ui.shown_render, ui.region_open], shown, **quiet)
    (hand_over(ui.redo_btn.click, ui.region_editor, ui.region_sent)
     .then(region.queue_redo, [ui.loaded, ui.shown_render, ui.region_sent], {ui.jobs, ui.status},
           show_progress="hidden")
     .then(run.wait, ui.jobs, {ui.jobs}, show_progress_on=ui.status, concurrency_limit=None)
     .then(run.after, after_inputs, everything, show_progress="hidden"))
