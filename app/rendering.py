"""The Story tab's render actions: queue jobs (story.queue), wake the worker thread, and
follow the jobs with a progress bar until they finish, fail or are cancelled."""
from __future__ import annotations

import time
from typing import Any, Optional

import gradio as gr

from app.common import inform, plain, warn
from app.context import AppContext
from story import panels, queue, renders
from story.views import PanelView, RenderView
from story.vocabulary import PENDING

POLL_S = 0.25
JOB_SETTINGS = {"routing_maps": True}
"""Every render from the app keeps its routing maps, so the overlay can show where each
character went for any render of the history (bench/render_bench.py --routing-maps: the cost)."""


def check_engine(ctx: AppContext) -> None:
    """Refuse to queue renders for an engine that failed to start (they would wait forever)."""
    if ctx.worker is None and ctx.worker_error:
        raise gr.Error(f"The render engine could not start: {ctx.worker_error}", print_exception=False)


def follow(ctx: AppContext, ids: list[int], progress: gr.Progress, what: str) -> Optional[list[RenderView]]:
    """Wake the worker and wait for the jobs `ids`, moving the progress bar; return them
    finished (None while the engine is still loading: the jobs stay queued and run once it
    is ready)."""
    if ctx.worker is None:
        inform("Queued. The render engine is still loading; the renders start once it is ready.")
        return None
    ctx.worker.wake()
    while True:
        current = queue.jobs(ctx.studio, ids)
        pending = [j for j in current if j.status in PENDING]
        done = sum(1 for j in current if j.status not in PENDING)
        fraction = (done + sum(j.progress for j in pending)) / max(1, len(current))
        state = "waiting in the queue" if pending and all(j.status == "queued" for j in pending) else "rendering"
        progress(fraction, desc=f"{what}: {state} ({done}/{len(current)} done)" if pending else f"{what}: done")
        if not pending:
            return current
        time.sleep(POLL_S)


def report(finished: Optional[list[RenderView]]) -> None:
    """One short message for the outcome: failures and cancellations say so."""
    finished = finished or []
    failed = [j for j in finished if j.status == "failed"]
    cancelled = [j for j in finished if j.status == "cancelled"]
    if failed:
        warn(f"{len(failed)} render(s) failed: {failed[0].error or 'no reason given'}")
    if cancelled:
        inform(f"{len(cancelled)} render(s) cancelled.")


def queue_panel(ctx: AppContext, view: PanelView, seed: Any, variants: int) -> list[int]:
    """Queue `variants` renders of a panel (seed "same" or "new"); their job ids."""
    check_engine(ctx)
    jobs = queue.enqueue(ctx.studio, view.id, engine=ctx.engine_name(), seed=seed, variants=variants,
                         settings=JOB_SETTINGS)
    return [j.id for j in jobs]


def queue_missing(ctx: AppContext, project_id: int) -> list[int]:
    """Queue every panel without a selected render; the job ids."""
    check_engine(ctx)
    batch = queue.render_missing(ctx.studio, project_id, engine=ctx.engine_name(), settings=JOB_SETTINGS)
    for reason in batch.skipped:
        warn(f"Skipped {reason}")
    if not batch.jobs:
        inform("Every panel already has a render or is being rendered.")
    return [j.id for j in batch.jobs]


def wait_for(ctx: AppContext, ids: list[int], progress: gr.Progress) -> None:
    """Follow queued jobs to their end with a progress bar, then say how they ended."""
    if not ids:
        return
    panel_ids = {j.panel_id for j in queue.jobs(ctx.studio, ids)}
    if len(panel_ids) > 1:
        what = f"{len(panel_ids)} panels"
    else:
        what = f"Panel {panels.get_panel(ctx.studio, panel_ids.pop()).number}"
        what += f", {len(ids)} variants" if len(ids) > 1 else ""
    report(follow(ctx, ids, progress, what))


def render_missing(ctx: AppContext, project_id: int, progress: gr.Progress) -> None:
    """Queue every panel without a selected render and wait for all of them."""
    wait_for(ctx, queue_missing(ctx, project_id), progress)


def cancel(ctx: AppContext, project_id: int, panel_id: Optional[int]) -> None:
    """Cancel this panel's pending renders, or all of this project's when no panel is open
    (never another project's)."""
    pending = queue.jobs(ctx.studio, pending_only=True, project=project_id)
    if panel_id is not None:
        pending = [j for j in pending if j.panel_id == panel_id]
    if not pending:
        inform("Nothing is rendering for this panel." if panel_id is not None else "Nothing is rendering in this story.")
        return
    queue.request_cancel_all(ctx.studio, [j.id for j in pending])
    inform(f"Cancelling {len(pending)} render(s)…")


def queue_note(ctx: AppContext, project_id: Optional[int] = None) -> str:
    """How busy the render queue is, for the panel list (refreshed every few seconds)."""
    pending = queue.jobs(ctx.studio, pending_only=True)
    engine = ctx.engine_name()
    if not pending:
        return f"Engine: **{engine}** · queue empty"
    mine = len(queue.jobs(ctx.studio, pending_only=True, project=project_id)) if project_id else 0
    here = f" ({mine} in this story)" if mine != len(pending) else ""
    return f"Engine: **{engine}** · {len(pending)} render(s) queued or running{here}"


def failure_note(ctx: AppContext, view: PanelView) -> str:
    """The last render's failure or notes, as safe HTML (notes quote character names)."""
    history = renders.list_renders(ctx.studio, view.id)
    if history and history[-1].status == "failed":
        return f"<p><b>The last render failed:</b> {plain(history[-1].error or 'no reason given')}</p>"
    if history and history[-1].notes:
        return f"<p><i>{plain(history[-1].notes)}</i></p>"
    return ""

