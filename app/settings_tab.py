"""The Settings tab: which engine and segmenter are active and why, how to enable the
AnyStory engine, and where the data lives."""
from __future__ import annotations

import gradio as gr

from app import settings_cluster, settings_memory, settings_segmenter
from app.context import AppContext

ENABLE_ANYSTORY = """
### Render real panels with AnyStory
The draft engine lays out your characters' cut-outs so you can block out and export a whole
story on any computer. For finished panels, start the app on a machine with an NVIDIA GPU
(about 40 GB of GPU memory with bf16; 8–24 GB cards: see GPU memory below):

```
python launch.py --engine anystory \\
    --flux black-forest-labs/FLUX.1-dev \\
    --redux black-forest-labs/FLUX.1-Redux-dev \\
    --anystory Junjie96/AnyStory
```

Each of `--flux`, `--redux` and `--anystory` takes a local folder or a Hugging Face repo id
(FLUX.1-dev needs its licence accepted on Hugging Face and `HF_TOKEN` set to a token of that account). The same
settings can come from `ANYSTORY_ENGINE`, `ANYSTORY_FLUX`, `ANYSTORY_REDUX`,
`ANYSTORY_CHECKPOINT`, `ANYSTORY_DEVICE`, `ANYSTORY_DTYPE` and `ANYSTORY_OFFLOAD`. Panels
drafted before keep their draft renders in their history; use **Re-render** to replace them.

### Better cut-outs with Segment Anything
Give `--sam-checkpoint sam_vit_b_01ec64.pth --sam-model vit_b` (or set
`ANYSTORY_SAM_CHECKPOINT`); without one, a no-weights segmenter estimates the background.
"""


def status_text(ctx: AppContext) -> str:
    _, why = ctx.engine_status()
    worker = ctx.worker
    running = "running" if worker is not None else (f"failed: {ctx.worker_error}" if ctx.worker_error else "starting…")
    describe = worker.generator.describe() if worker is not None else why
    _, seg_why = ctx.segmenter_status()
    return (
        "## Status\n"
        f"- **Engine:** {describe}\n"
        f"- **Why this engine:** {why}\n"
        f"- **Render worker:** {running}\n"
        f"- {settings_memory.memory_status(ctx)}\n"
        f"- **Segmenter:** {seg_why}\n"
        f"- **Data directory:** `{ctx.data_dir}`\n"
    )


def build(ctx: AppContext) -> gr.Markdown:
    """Lay out the Settings tab; returns the status block (refreshed when the tab opens)."""
    status = gr.Markdown(elem_id="status-text")
    refresh_btn = gr.Button("Refresh status", size="sm")
    settings_memory.build(ctx)
    settings_cluster.build(ctx)
    gr.Markdown(ENABLE_ANYSTORY)
    settings_segmenter.build(ctx)
    refresh_btn.click(lambda: status_text(ctx), None, status)
    return status
