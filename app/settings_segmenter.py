"""Cut-outs in Settings: which segmenter cuts characters out, said in a writer's words, and
where the writer points the app at a Segment Anything checkpoint or a matting model.

The choice is kept in `<data dir>/segmenter.json`, so it holds at the next start; a
checkpoint given on the command line or in the environment wins over it.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from app.common import inform, user_errors
from app.context import AppContext
from engine.segment import SAM_MODEL_TYPES, SegmenterConfig

SAVED_CHOICE = "segmenter.json"

WORDS = {
    "sam": ("Segment Anything (a trained model). Click on the character; one or two clicks "
            "usually find it. Exclude-clicks and the brush fix the rest."),
    "matting": ("Automatic cut-out model (BiRefNet). The character is found without clicks; "
                "click to keep only a part, or fix details with the brush."),
    "fallback": ("Built-in cut-out (no model installed). It takes the character off a plain "
                 "or simple background at once; enclosed areas such as white wool stay with "
                 "the character. Click a part to keep only it, use Exclude to remove an area, "
                 "and the brush for anything else. For photos, add a Segment Anything "
                 "checkpoint in Settings."),
}


def segmenter_words(ctx: AppContext) -> str:
    """What cuts characters out now and how to work with it (no command-line flags)."""
    backend, _ = ctx.segmenter_status()
    return f"**Cut-outs:** {WORDS[backend]}"


def _saved_path(ctx: AppContext) -> Path:
    return Path(ctx.data_dir) / SAVED_CHOICE


def restore_saved_choice(ctx: AppContext) -> None:
    """Use the checkpoint or matting model the writer chose in an earlier session, unless
    the command line or the environment named one; a file that has gone is ignored."""
    config = ctx.segmenter_config
    if config.checkpoint or config.matting or not _saved_path(ctx).is_file():
        return
    saved = json.loads(_saved_path(ctx).read_text(encoding="utf-8"))
    chosen = replace(config, checkpoint=saved.get("checkpoint"), matting=saved.get("matting"),
                     model_type=saved.get("model_type", config.model_type))
    try:
        ctx.use_segmenter(chosen)
    except Exception:  # noqa: BLE001 - a moved file must not stop the app from starting
        return


def choose_model(ctx: AppContext, checkpoint: str, model_type: str, matting: str) -> str:
    """Point the app at a SAM checkpoint (and its size) and/or a matting model folder;
    empty fields go back to the built-in cut-out. Returns the new note."""
    checkpoint, matting = checkpoint.strip() or None, matting.strip() or None
    for path, what in ((checkpoint, "checkpoint file"), (matting, "matting model folder")):
        if path and not Path(path).expanduser().exists():
            raise ValueError(f"There is no {what} at {path}.")
    config = SegmenterConfig(backend="auto", checkpoint=checkpoint, model_type=model_type,
                             device=ctx.segmenter_config.device, matting=matting)
    ctx.use_segmenter(config)
    choice = {"checkpoint": checkpoint, "model_type": model_type, "matting": matting}
    _saved_path(ctx).write_text(json.dumps(choice), encoding="utf-8")
    return segmenter_words(ctx)


def build(ctx: AppContext) -> dict[str, Any]:
    """The Cut-outs section of the Settings tab; returns its components by name."""
    restore_saved_choice(ctx)
    config = ctx.segmenter_config
    with gr.Accordion("Cut-outs: Segment Anything or a matting model", open=False):
        note = gr.Markdown(segmenter_words(ctx), elem_id="segmenter-settings-note")
        checkpoint = gr.Textbox(label="Segment Anything checkpoint file (e.g. sam_vit_b_01ec64.pth)",
                                value=config.checkpoint or "", elem_id="sam-checkpoint")
        model_type = gr.Dropdown([m for m in SAM_MODEL_TYPES if m != "tiny"], value=config.model_type,
                                 label="Its size", elem_id="sam-model")
        matting = gr.Textbox(label="Matting model folder (BiRefNet files), optional",
                             value=config.matting or "", elem_id="matting-model")
        apply_btn = gr.Button("Use these", size="sm", elem_id="use-segmenter")

    @user_errors
    def chosen(checkpoint_: str, model_type_: str, matting_: str) -> dict[Any, Any]:
        """Apply the writer's choice; the note says what cuts out now."""
        words = choose_model(ctx, checkpoint_, model_type_, matting_)
        inform("The new cut-out settings apply to the next click.")
        return {note: words}

    apply_btn.click(chosen, [checkpoint, model_type, matting], [note])
    return {"note": note, "checkpoint": checkpoint, "model_type": model_type, "matting": matting,
            "apply": apply_btn, "chosen": chosen}

