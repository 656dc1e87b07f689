"""Gradio controls for the active engine's settings (app/engine_settings.py): a slider or
checkbox per described parameter, the most used ones first and the rest in an accordion, or
a JSON box for an engine that does not describe its parameters."""
from __future__ import annotations

from typing import Any, Optional

import gradio as gr

from app.engine_settings import FIRST, EngineSettings, info, label


def control(param: dict[str, Any]) -> gr.components.Component:
    """The input for one parameter, showing its default."""
    elem_id = f"engine-{param['name'].replace('_', '-')}"
    common = {"label": label(param), "info": info(param), "value": param["default"], "elem_id": elem_id}
    if param["type"] == "bool":
        return gr.Checkbox(**common)
    low, high = param.get("minimum"), param.get("maximum")
    if low is None or high is None:
        return gr.Number(precision=0 if param["type"] == "int" else None, **common)
    step = 1 if param["type"] == "int" else (0.01 if high - low <= 2 else 0.1)
    return gr.Slider(low, high, step=step, **common)


def build(settings: EngineSettings) -> tuple[list[gr.components.Component], Optional[gr.Button]]:
    """Lay out the engine's settings; returns their inputs (in EngineSettings order) and the
    "reset to defaults" button (None when there is nothing to reset)."""
    if settings.params is None:
        with gr.Accordion("Engine settings (advanced)", open=False):
            box = gr.Code("{}", language="json", label="", lines=4, elem_id="panel-advanced")
            gr.Markdown(f"The **{settings.engine}** engine does not describe its settings: "
                        "type them as a JSON object of name: value.")
        return [box], None
    if not settings.params:
        with gr.Accordion("Engine settings (advanced)", open=False):
            gr.Markdown(f"The **{settings.engine}** engine has no advanced settings.")
        return [], None
    first = {p["name"]: control(p) for p in settings.params if p["name"] in FIRST}
    with gr.Accordion("Engine settings (advanced)", open=False):
        rest = {p["name"]: control(p) for p in settings.params if p["name"] not in FIRST}
        reset = gr.Button("Reset to the engine's defaults", size="sm", elem_id="engine-reset")
    controls = {**first, **rest}
    return [controls[p["name"]] for p in settings.params], reset
