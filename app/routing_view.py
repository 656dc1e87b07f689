"""“Where did each character go?”: a render's routing maps (story.routing_maps) as a
coloured overlay with a legend, for the Story tab. Each character keeps the colour of its box
(its place in the panel's cast when the render was queued)."""
from __future__ import annotations

from typing import Any, Optional

from PIL import Image

from app.overlay import BOX_COLOURS, legend_html, routing_overlay
from app.quality_ui import flags_html, legend_notes
from story import renders
from story.routing_maps import load_routing_maps
from story.studio import Studio

DISPLAY = 640
"""Longest side of the overlay picture sent to the browser."""


def subject_colours(params: dict[str, Any]) -> list[tuple[int, int, int]]:
    """The box colour of each drawn subject: its index in the job's cast snapshot."""
    cast = [c["id"] for c in params.get("characters", [])]
    places = [cast.index(s["id"]) if s["id"] in cast else i for i, s in enumerate(params.get("subjects", []))]
    return [BOX_COLOURS[p % len(BOX_COLOURS)] for p in places]


def routing_view(studio: Studio, render_id: Optional[int]) -> tuple[Optional[Image.Image], str]:
    """(overlay picture, legend HTML) of a render; no picture and a sentence saying why when
    there is nothing to show."""
    if render_id is None:
        return None, "<p>This panel has no render yet.</p>"
    render = renders.get_render(studio, render_id)
    subjects = render.params.get("subjects", [])
    if not subjects:
        return None, f"<p>Render #{render.id} has no characters, so there is nothing to show.</p>"
    maps = load_routing_maps(studio, render)
    if not maps:
        return None, (f"<p>Render #{render.id} has no routing maps. Renders made before maps were kept have "
                      "none (re-render to get them), and AnyStory routes a single character only when it has "
                      "a box.</p>")
    picture = studio.assets.open(render.image_hash)
    picture.thumbnail((DISPLAY, DISPLAY))
    colours = subject_colours(render.params)
    notes = [f"{round(100 * float(m.mean()))} % of the panel" if m.any() else "not placed" for m in maps]
    notes = [" · ".join(filter(None, pair)) for pair in zip(notes, legend_notes(render))]
    legend = legend_html([(s["name"], c, n) for s, c, n in zip(subjects, colours, notes)]) + flags_html(render)
    return routing_overlay(picture, maps, colours), legend
