"""The Settings tab's GPU memory control: which memory profile the AnyStory engine runs with
and why, and a choice of profile that reloads the engine with it."""
from __future__ import annotations

from typing import Any

import gradio as gr

from app.context import AppContext
from engine.anystory.memory import CHOICES, TARGET_GIB

PROFILE_HELP = f"""
| profile | what it does | aims for (2 characters, 1024²) | cards |
|---|---|---|---|
| `full` | bf16 everywhere | {TARGET_GIB['full']:g} GiB | 48–80 GB (A6000, L40S, A100, H100) |
| `int8` | transformer and T5 in int8 (torchao) | {TARGET_GIB['int8']:g} GiB | 24 GB (RTX 3090, 4090) |
| `fp8` | the same in fp8; compute capability 8.9+ | {TARGET_GIB['fp8']:g} GiB | 24 GB Ada/Hopper (RTX 4090, L4) |
| `nf4` | 4-bit NF4 (bitsandbytes) | {TARGET_GIB['nf4']:g} GiB | 16 GB (RTX 4060 Ti 16 GB, 4080) |
| `nf4-offload` | nf4, layers brought to the GPU as they run | {TARGET_GIB['nf4-offload']:g} GiB | 8–12 GB (RTX 3060, 4060) |

`auto` picks the first that fits the GPU's free memory. These figures are targets, not yet
measured on a GPU. The same choice: `--memory PROFILE` or `ANYSTORY_MEMORY`.
"""


def memory_status(ctx: AppContext) -> str:
    """The profile the running engine uses and why, or the configured one before it runs."""
    worker = ctx.worker
    memory = getattr(worker.generator, "memory", None) if worker is not None else None
    if memory is not None:
        return f"**Memory profile:** `{memory['profile']}`: {memory['reason']}"
    if ctx.engine_status()[0] == "draft":
        return (f"**Memory profile:** `{ctx.engine_config.memory}` (used when the AnyStory engine runs; "
                "the draft engine needs no GPU)")
    state = f"failed: {ctx.worker_error}" if ctx.worker_error else "the engine is loading…"
    return f"**Memory profile:** `{ctx.engine_config.memory}` ({state})"


def apply_profile(ctx: AppContext, profile: str, status: gr.Markdown) -> dict[Any, Any]:
    """Make `profile` the engine's memory profile; a running AnyStory engine reloads with it."""
    if profile not in CHOICES:
        return {status: f"Unknown memory profile {profile!r}; choose one of {', '.join(CHOICES)}."}
    ctx.engine_config.memory = profile
    if ctx.engine_status()[0] == "draft" or ctx.restart_engine is None:
        return {status: memory_status(ctx)}
    ctx.restart_engine()
    return {status: (f"**Memory profile:** `{profile}`: the engine is reloading with it (a GPU engine takes "
                     "minutes); **Refresh status** above says when it is ready, or why it could not start.")}


def build(ctx: AppContext) -> gr.Markdown:
    """The memory section of the Settings tab; returns its status line (refreshed with the tab)."""
    gr.Markdown("### GPU memory")
    status = gr.Markdown(memory_status(ctx), elem_id="memory-status")
    with gr.Row():
        choice = gr.Dropdown(list(CHOICES), value=ctx.engine_config.memory, label="Memory profile",
                             elem_id="memory-profile", scale=2)
        apply = gr.Button("Use this profile (reloads the engine)", elem_id="memory-apply", scale=1)
    gr.Markdown(PROFILE_HELP)
    apply.click(lambda profile: apply_profile(ctx, profile, status), choice, status)
    return status
