"""The Settings tab's render farm block: the Ray cluster renders run on, its actors and what
each is doing (refreshed every few seconds while a cluster is in use), or how to start one."""
from __future__ import annotations

import gradio as gr

from app.context import AppContext

REFRESH_S = 2.0
NO_CLUSTER = (
    "### Render farm\n"
    "Renders run in this process, one at a time. To spread them over several GPUs or machines, "
    "start the app with `--cluster local` (one render actor per GPU here, or `--cluster-workers N` "
    "CPU actors for drafts) or `--cluster ray://HOST:10001` (a Ray cluster started with `ray start`); "
    "see the README's *Render farm* section.\n"
)


def _actor_rows(view) -> list[str]:
    rows = ["| Actor | Machine | Process | Device | Doing | Rendered | Restarts | Encodings made / kept |",
            "|---|---|---|---|---|---|---|---|"]
    for a in view.actors:
        rows.append(f"| {a.index} | {a.host} | {a.pid} | {a.device} | {a.doing} | {len(a.rendered)} "
                    f"| {a.restarts} | {a.encodings_made} / {a.encodings_held} |")
    return rows


def cluster_text(ctx: AppContext) -> str:
    """Markdown of the render farm: none, starting, failed, or the live actors."""
    config = ctx.cluster
    if config is None or not config.enabled:
        return NO_CLUSTER
    runner = ctx.worker
    if runner is None or not hasattr(runner, "status"):
        state = f"could not start: {ctx.worker_error}" if ctx.worker_error else "starting its actors…"
        return f"### Render farm\n- **Cluster:** `{config.address}`: {state}\n"
    view = runner.status()
    lines = ["### Render farm", f"- **Cluster:** `{view.address}` with {len(view.actors)} render actors",
             f"- **Engine on each actor:** {view.engine}"]
    if view.waiting:
        lines.append(f"- **Claimed, waiting for an encoding or a free actor:** renders {', '.join(map(str, view.waiting))}")
    lines += [f"- Render {old} was interrupted (its actor was lost) and retried as render {new}"
              for old, new in view.retried.items()]
    return "\n".join(lines + ["", *_actor_rows(view)]) + "\n"


def build(ctx: AppContext) -> gr.Markdown:
    """The render farm block; refreshed by its button, and by a timer while a cluster is in use."""
    block = gr.Markdown(cluster_text(ctx), elem_id="cluster-status")
    refresh = gr.Button("Refresh render farm", size="sm")
    timer = gr.Timer(REFRESH_S, active=ctx.cluster is not None and ctx.cluster.enabled)
    for event in (refresh.click, timer.tick):
        event(lambda: {block: cluster_text(ctx)}, None, [block], show_progress="hidden")
    return block
