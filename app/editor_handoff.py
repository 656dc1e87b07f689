"""Handing a gr.ImageEditor's painting to a server event so that Gradio never re-reads it.

Gradio 6 re-reads (exports and uploads) an ImageEditor on every later event of the page once
it, or a block around it, had an event's status: as an output, a progress target, or an input
of a server event (js/core update_state -> sync_current_value_to_node). Strokes painted
meanwhile get lost and the editor can hang on "processing". So a server event reads a hidden
copy that a browser-only step fills first (a js-only step has no status), and each event that
writes the editor sends its progress to a component outside the editor's blocks
(show_progress_on=...).
"""
from __future__ import annotations

from typing import Any, Callable

import gradio as gr


def sent_copy(editor: gr.ImageEditor) -> gr.ImageEditor:
    """A hidden editor of the same type as `editor`: what server events read instead of it."""
    return gr.ImageEditor(type=editor.type, format=editor.format, image_mode=editor.image_mode, visible=False)


def hand_over(trigger: Callable[..., Any], editor: gr.ImageEditor, copy: gr.ImageEditor) -> Any:
    """On `trigger` (e.g. a button's .click), copy the painting into `copy` in the browser;
    chain the server step that reads `copy` with .then on what this returns."""
    return trigger(None, editor, copy, js="(painted) => painted")
