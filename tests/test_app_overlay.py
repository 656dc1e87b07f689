"""“Where did each character go?”: the routing overlay on real arrays, and on real draft
renders made through the render queue the way the app queues them (with routing maps)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.overlay import BOX_COLOURS, routing_overlay
from app.rendering import JOB_SETTINGS
from app.routing_view import routing_view
from engine.draft import DraftGenerator
from story import characters, panels, projects, queue
from story.worker import Worker
from tests.draft_helpers import BLUE, RED
from tests.queue_helpers import add_pictured_character

ORANGE, TEAL = (230, 120, 30), (30, 160, 140)


def photo(width: int = 64, height: int = 48) -> Image.Image:
    """A colourful picture: red across, green down, blue constant."""
    x, y = np.meshgrid(np.linspace(0, 255, width), np.linspace(0, 255, height))
    return Image.fromarray(np.stack([x, y, np.full_like(x, 90)], axis=-1).astype(np.uint8))


def chroma(picture: Image.Image) -> np.ndarray:
    rgb = np.asarray(picture, np.int16)
    return rgb.max(axis=-1) - rgb.min(axis=-1)


def test_overlay_paints_each_map_in_its_colour_and_leaves_the_rest_grey():
    picture = photo()
    first, second = np.zeros((48, 64), np.float32), np.zeros((48, 64), np.float32)
    first[8:24, 4:30] = 1.0
    second[16:40, 20:60] = 1.0
    out = np.asarray(routing_overlay(picture, [first, second], [ORANGE, TEAL]), np.float32)
    grey = np.asarray(picture.convert("L"), np.float32)[..., None]

    outside = (first == 0) & (second == 0)
    assert np.abs(out[outside] - grey[outside]).max() <= 1  # untouched pixels: the picture in grey
    only_first = (first == 1) & (second == 0)
    expected = 0.3 * grey[only_first] + 0.7 * np.array(ORANGE)
    assert np.abs(out[only_first] - expected).max() <= 1
    both = (first == 1) & (second == 1)  # overlapping maps mix their colours
    expected = 0.3 * grey[both] + 0.7 * (np.array(ORANGE) + np.array(TEAL)) / 2
    assert np.abs(out[both] - expected).max() <= 1


def test_a_weak_map_tints_less_and_a_smaller_map_is_stretched_to_the_picture():
    picture = photo()
    weak = np.zeros((48, 64), np.float32)
    weak[:, 32:] = 0.25
    tinted = routing_overlay(picture, [weak], [ORANGE])
    assert 0 < chroma(tinted)[:, 40:].min() and chroma(tinted)[:, 40:].max() < chroma(
        routing_overlay(picture, [weak * 4], [ORANGE]))[:, 40:].min()
    half = np.zeros((24, 32), np.float32)
    half[:, 16:] = 1.0
    stretched = chroma(routing_overlay(picture, [half], [ORANGE]))
    assert stretched[:, :30].max() == 0 and stretched[:, 34:].min() > 60


def test_overlay_needs_a_colour_per_map():
    with pytest.raises(ValueError, match="2 routing maps need as many colours"):
        routing_overlay(photo(), [np.zeros((48, 64))] * 2, [ORANGE])


def render_once(studio, panel_id: int, **settings) -> int:
    queue.enqueue(studio, panel_id, engine="draft", settings=settings)
    return Worker(studio, DraftGenerator()).run_one().id


def test_the_overlay_of_a_boxed_character_lies_inside_its_box(studio):
    project = projects.create_project(studio, "Where")
    add_pictured_character(studio, project.id, "Ann", RED)
    box = (0.5, 0.35, 0.95, 0.95)
    panel = panels.add_panel(studio, project.id, prompt="Ann waits at the corner", characters=[("Ann", box)])
    picture, legend = routing_view(studio, render_once(studio, panel.id, **JOB_SETTINGS))

    coloured = chroma(picture) > 40
    ys, xs = np.nonzero(coloured)
    width, height = picture.size
    assert coloured.mean() > 0.05
    assert xs.min() >= box[0] * width - 2 and xs.max() <= box[2] * width + 2
    assert ys.min() >= box[1] * height - 2 and ys.max() <= box[3] * height + 2
    r, g, b = np.asarray(picture, np.float32)[coloured].mean(axis=0)
    assert b > r and b > g  # Ann's box colour, the first of the palette (blue)
    assert "Ann" in legend and "% of the panel" in legend


def test_a_character_keeps_its_box_colour_when_one_before_it_is_not_drawn(studio):
    project = projects.create_project(studio, "Colours")
    characters.add_character(studio, project.id, "Ghost")  # no picture: rendered without it
    add_pictured_character(studio, project.id, "Bo", BLUE)
    panel = panels.add_panel(studio, project.id, prompt="Bo alone", characters=["Ghost", "Bo"])
    picture, legend = routing_view(studio, render_once(studio, panel.id, **JOB_SETTINGS))
    assert f"rgb{BOX_COLOURS[1]}" in legend and "Ghost" not in legend
    coloured = np.asarray(picture, np.float32)[chroma(picture) > 40].mean(axis=0)
    assert coloured[0] > coloured[2]  # orange, Bo's box colour, not the first colour (blue)


def test_renders_without_maps_or_characters_say_why_there_is_no_overlay(studio):
    project = projects.create_project(studio, "Plain")
    add_pictured_character(studio, project.id, "Ann", RED)
    with_ann = panels.add_panel(studio, project.id, prompt="Ann", characters=["Ann"])
    empty = panels.add_panel(studio, project.id, prompt="An empty street")
    picture, note = routing_view(studio, render_once(studio, with_ann.id))
    assert picture is None and "re-render" in note
    assert "no characters" in routing_view(studio, render_once(studio, empty.id, **JOB_SETTINGS))[1]
    assert routing_view(studio, None) == (None, "<p>This panel has no render yet.</p>")
