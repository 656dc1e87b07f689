"""The Story tab's quality tools in process, on a real studio and the draft engine's worker
thread: likeness on history captions and in the routing legend, keep-best, region redo from
an ImageEditor value."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app import quality_ui, rendering
from app.context import AppContext
from app.routing_view import routing_view
from engine.draft import DraftGenerator
from engine.registry import EngineConfig
from story import panels, projects, queue, renders
from story.errors import InvalidInput
from story.worker import Worker
from tests.draft_helpers import BLUE, RED
from tests.queue_helpers import add_pictured_character


@pytest.fixture
def ctx(studio):
    worker = Worker(studio, DraftGenerator(), poll_s=0.05)
    worker.start()
    yield AppContext(studio, EngineConfig(engine="draft"), worker=worker)
    worker.stop(5)


@pytest.fixture
def panel(studio):
    project = projects.create_project(studio, "Quality", render_defaults={"width": 160, "height": 128})
    add_pictured_character(studio, project.id, "Ann", RED)
    add_pictured_character(studio, project.id, "Bo", BLUE)
    return panels.add_panel(studio, project.id, prompt="Ann and Bo", characters=["Ann", "Bo"])


def no_progress(*_args, **_kwargs) -> None:
    """Stands in for gr.Progress: the handlers only report to it."""


def test_keep_best_selects_the_best_variant_and_captions_show_likeness(ctx, studio, panel):
    ids = rendering.queue_panel(ctx, panel, "new", 3)
    rendering.wait_for(ctx, ids, no_progress)
    finished = queue.jobs(studio, ids)
    assert [j.status for j in finished] == ["done"] * 3
    quality_ui.keep_best(ctx, finished)
    history = renders.list_renders(studio, panel.id)
    lowest = {r.id: min(s["score"] for s in r.likeness["subjects"]) for r in history}
    assert panels.get_panel(studio, panel.id).selected_render_id == max(lowest, key=lowest.get)
    label = quality_ui.history_label(history[0])
    assert label == f" · likeness {lowest[history[0].id]:.2f}"
    picture, legend = routing_view(studio, history[0].id)
    scores = [s["score"] for s in history[0].likeness["subjects"]]
    assert f"Ann</b> · " in legend and f"likeness {scores[0]:.2f}" in legend and f"likeness {scores[1]:.2f}" in legend


def test_region_redo_from_the_image_editor_keeps_the_unpainted_pixels(ctx, studio, panel):
    rendering.wait_for(ctx, rendering.queue_panel(ctx, panel, "same", 1), no_progress)
    first = panels.get_panel(studio, panel.id)
    shown = quality_ui.editor_picture(ctx, first.selected_render_id)
    assert shown.size == (160, 128)
    with pytest.raises(InvalidInput, match="Paint the region"):
        quality_ui.queue_region(ctx, first, first.selected_render_id, {"background": shown, "layers": [],
                                                                       "composite": shown})
    stroke = Image.new("RGBA", (160, 128), (0, 0, 0, 0))
    stroke.paste((255, 51, 102, 255), (10, 20, 90, 100))
    ids = quality_ui.queue_region(ctx, first, first.selected_render_id,
                                  {"background": shown, "layers": [stroke], "composite": shown})
    rendering.wait_for(ctx, ids, no_progress)
    after = panels.get_panel(studio, panel.id)
    redo = renders.get_render(studio, after.selected_render_id)
    assert redo.parent_render_id == first.selected_render_id
    assert quality_ui.history_label(redo).endswith(" · ↻ region")
    old = np.asarray(studio.assets.open(first.selected_image_hash).convert("RGB"))
    new = np.asarray(studio.assets.open(redo.image_hash).convert("RGB"))
    painted = np.zeros((128, 160), bool)
    painted[20:100, 10:90] = True
    assert np.array_equal(old[~painted], new[~painted]) and (old[painted] != new[painted]).any()


def test_blend_flags_show_under_the_legend():
    from datetime import datetime

    from story.views import RenderView

    flagged = RenderView(1, 1, "done", "draft", "", {"subjects": [{"id": 1}, {"id": 2}]}, 0, None, 1.0, None, "",
                         None, datetime(2026, 1, 1), None, None,
                         likeness={"subjects": [{"name": "A", "score": 0.9}, {"name": "B", "score": 0.4}],
                                   "flags": ["A's region also looks like B"]})
    assert quality_ui.flags_html(flagged) == ("<p class=\"likeness-flags\">⚠ Likely blend: A&#x27;s region also "
                                              "looks like B.</p>")
    assert quality_ui.history_label(flagged) == " · likeness 0.40 ⚠ blend?"
    assert quality_ui.legend_notes(flagged) == ["likeness 0.90", "likeness 0.40"]
