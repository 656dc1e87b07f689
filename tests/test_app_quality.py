"""The Story tab's quality tools in process, on a real studio and the draft engine's worker
thread: likeness on history captions and in the routing legend, keep-best, region redo from
an ImageEditor value, the region panel's handlers, and how the events of every ImageEditor
(the region editor, the Characters brush) are wired."""
from __future__ import annotations

import asyncio

import warnings

import gradio as gr
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
from tests.app_helpers import toasts
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


def stroke_over(picture: Image.Image, box: tuple[int, int, int, int]) -> dict:
    """An ImageEditor value with one painted rectangle on `picture`."""
    layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    layer.paste((255, 51, 102, 255), box)
    return {"background": picture, "layers": [layer], "composite": picture}


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
    ids = quality_ui.queue_region(ctx, first, first.selected_render_id, stroke_over(shown, (10, 20, 90, 100)))
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


def test_the_region_panel_shows_each_new_render_and_redoes_regions_in_a_row(ctx, studio, panel):
    from app import story_tab

    with gr.Blocks() as demo:
        tab = story_tab.build(ctx, gr.State(None))
    ui, region = tab.ui, quality_ui.RegionHandlers(tab)
    rendering.wait_for(ctx, rendering.queue_panel(ctx, panel, "same", 1), no_progress)
    chain = [panels.get_panel(studio, panel.id).selected_render_id]
    closed = region.reloaded(chain[0], False)  # a closed panel gets no picture: Gradio leaves both outputs
    reload_event = next(fn for fn in demo.fns.values() if fn.name == "reloaded")
    assert asyncio.run(demo.postprocess_data(reload_event, closed, None)) == [gr.skip(), gr.skip()]
    opened = region.opened(chain[0])
    assert opened[ui.region_open] is True and f"#{chain[0]}**" in opened[ui.region_target]
    for box in ((10, 20, 90, 100), (100, 10, 150, 60)):
        view = panels.get_panel(studio, panel.id)
        shown = region.reloaded(view.selected_render_id, True)[ui.region_editor]  # fresh: no strokes
        assert isinstance(shown, Image.Image) and shown.size == (160, 128)
        queued = region.queue_redo(view, view.selected_render_id, stroke_over(shown, box))
        assert "region redo queued" in queued[ui.status]
        rendering.wait_for(ctx, queued[ui.jobs], no_progress)
        chain.append(panels.get_panel(studio, panel.id).selected_render_id)
        redo = renders.get_render(studio, chain[-1])
        assert redo.parent_render_id == chain[-2] and redo.region_hash is not None
    last = np.asarray(studio.assets.open(renders.get_render(studio, chain[-1]).image_hash).convert("RGB"))
    shown = region.reloaded(chain[-1], True)
    assert np.array_equal(np.asarray(shown[ui.region_editor]), last) and f"#{chain[-1]}**" in shown[ui.region_target]
    assert region.closed() == {ui.region_open: False}


def test_a_redo_with_nothing_painted_says_so_and_queues_nothing(ctx, studio, panel):
    from app import story_tab

    with gr.Blocks():
        tab = story_tab.build(ctx, gr.State(None))
    rendering.wait_for(ctx, rendering.queue_panel(ctx, panel, "same", 1), no_progress)
    view = panels.get_panel(studio, panel.id)
    shown = quality_ui.editor_picture(ctx, view.selected_render_id)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = quality_ui.RegionHandlers(tab).queue_redo(view, view.selected_render_id,
                                                        {"background": shown, "layers": [], "composite": shown})
    assert out == {tab.ui.jobs: []} and any("Paint the region" in t for t in toasts(record))
    assert len(renders.list_renders(studio, panel.id)) == 1


def test_no_event_makes_gradio_reread_an_image_editor(studio):
    """Gradio 6 exports and uploads an ImageEditor on every later event once it, or a block
    around it, has had an event's status (as an output, a progress target, or an input of a
    server event): for each visible editor (the Story tab's region, the Characters brush) the
    painting reaches the server through a hidden copy, and every event writing the editor or a
    block around it (its panel, the tab, the tabs) shows its progress elsewhere."""
    from app.ui import build_app
    from tests.app_helpers import app_context

    demo = build_app(app_context(studio))
    editors = [b for b in demo.blocks.values() if isinstance(b, gr.ImageEditor) and b.visible]
    assert sorted(e.elem_id for e in editors) == ["mask-brush", "region-editor"]
    server_fns = [f for f in demo.fns.values() if f.fn is not None]
    for editor in editors:
        watched, block = set(), editor
        while block is not None:  # the editor and every block around it: its panel, the tab, the tabs
            watched.add(block)
            block = block.parent
        assert any(isinstance(b, gr.Tabs) for b in watched)
        assert not [f.name for f in server_fns if editor in f.inputs], editor.elem_id
        for f in server_fns:
            if watched & set(f.outputs):
                assert f.show_progress_on and not watched & set(f.show_progress_on), (editor.elem_id, f.name)
        handoff = [f for f in demo.fns.values() if f.fn is None and editor in f.inputs]
        assert len(handoff) == 1 and handoff[0].outputs[0].visible is False, editor.elem_id
        copy = handoff[0].outputs[0]
        assert [f for f in server_fns if copy in f.inputs], editor.elem_id  # a server event reads the copy
        assert (copy.type, copy.format) == (editor.type, editor.format)
