"""The Story tab's box drawing: pick a character under "Box for", click two corners on the
panel preview. A bad pair of clicks is refused and forgets its first corner, so the next
click starts a new box."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import gradio as gr
from PIL import Image

from app.common import Outputs, user_errors, warn
from app.overlay import boxes_overlay, panel_canvas
from app.panel_form import parse_size
from story.views import PanelView

if TYPE_CHECKING:
    from app.context import AppContext
    from app.story_tab import StoryTab

MIN_SIDE = 0.02
"""Smallest box side, as a share of the panel: smaller is a double click, not a box."""


def panel_base(ctx: "AppContext", view: Optional[PanelView], size: str) -> Image.Image:
    """The picture boxes are drawn on: the panel's selected render, else a blank of its size."""
    if view is not None and view.selected_image_hash:
        image = ctx.studio.assets.open(view.selected_image_hash)
        image.thumbnail((640, 640))
        return image
    return panel_canvas(*parse_size(size))


class BoxHandlers:
    """Cast ticks, corner clicks and "Clear box"."""

    def __init__(self, tab: "StoryTab") -> None:
        self.tab, self.ui = tab, tab.ui

    def _base(self, view: Optional[PanelView], size: str) -> Image.Image:
        return panel_base(self.tab.ctx, view, size)

    @user_errors
    def cast_changed(self, view: Optional[PanelView], names: list[str], box_map: dict, size: str) -> Outputs:
        box_map = {name: box_map.get(name) for name in names or []}
        return {self.ui.boxes: box_map, self.ui.box_for: gr.update(choices=list(box_map), value=next(iter(box_map), None)),
                self.ui.preview: boxes_overlay(self._base(view, size), list(box_map.items()))}

    @user_errors
    def clicked(self, view: Optional[PanelView], box_map: dict, first: Any, name: Optional[str], size: str,
                evt: gr.SelectData) -> Outputs:
        ui = self.ui
        if not name:
            raise gr.Error("Tick a character in the panel and choose it under “Box for” first.", print_exception=False)
        base = self._base(view, size)
        x, y = float(evt.index[0]), float(evt.index[1])
        if first is None:
            return {ui.corner: (x, y), ui.preview: boxes_overlay(base, list(box_map.items()), corner=(x, y))}
        (x0, x1), (y0, y1) = sorted((first[0], x)), sorted((first[1], y))
        box = (x0 / base.width, y0 / base.height, min(1.0, x1 / base.width), min(1.0, y1 / base.height))
        if box[2] - box[0] < MIN_SIDE or box[3] - box[1] < MIN_SIDE:
            warn("That box is too small; click two opposite corners further apart.")
            return {ui.corner: None, ui.preview: boxes_overlay(base, list(box_map.items()))}
        box_map = {**box_map, name: box}
        return {ui.boxes: box_map, ui.corner: None, ui.preview: boxes_overlay(base, list(box_map.items()))}

    @user_errors
    def cleared(self, view: Optional[PanelView], box_map: dict, name: Optional[str], size: str) -> Outputs:
        box_map = {**box_map, name: None} if name else box_map
        return {self.ui.boxes: box_map, self.ui.corner: None,
                self.ui.preview: boxes_overlay(self._base(view, size), list(box_map.items()))}
