"""Issue 8 in the engine, on the tiny components: character boxes restrict routing, routing
maps come back per subject, layout freedom delays the characters."""
from __future__ import annotations

import numpy as np
import pytest

from engine.anystory.params import resolve_params
from engine.anystory.pipeline import DenoiseHooks
from engine.base import EngineError, PanelRequest, SubjectInput
from tests.anystory_helpers import golden_subject, image_array, tiny_generator  # noqa: F401 (fixture)

SIZE, STEPS = 128, 6
LEFT = (0.0, 0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def encodings(tiny_generator):
    return [tiny_generator.encode_subject(*golden_subject(index=i)) for i in range(2)]


def request(*subjects: SubjectInput, **kwargs) -> PanelRequest:
    base = dict(prompt="two friends on a bridge", width=SIZE, height=SIZE, steps=STEPS, seed=3)
    return PanelRequest(subjects=list(subjects), **{**base, **kwargs})


def test_routing_maps_say_where_each_subject_went(tiny_generator, encodings):
    result = tiny_generator.render(request(*(SubjectInput(n, e) for n, e in zip("ab", encodings)),
                                           return_routing_maps=True))
    maps = result.routing_maps
    assert len(maps) == 2 and all(m.shape == (SIZE, SIZE) and m.dtype == np.float32 for m in maps)
    # every image token goes to exactly one subject at every layer, so the averages sum to one
    np.testing.assert_allclose(maps[0] + maps[1], 1.0, atol=1e-5)
    assert 0 < maps[0].mean() < 1


def test_a_box_confines_its_character_at_every_layer_and_step(tiny_generator, encodings):
    seen = []
    subjects = [SubjectInput("a", encodings[0], box=LEFT), SubjectInput("b", encodings[1])]
    req = request(*subjects)
    prompt = tiny_generator.encode_prompt(req.prompt)
    hooks = DenoiseHooks(on_routing=lambda step, layer, maps: seen.append(maps[0].reshape(2, 8, 8).clone()))
    tiny_generator.generate(prompt, req, resolve_params({}, 2), tiny_generator.subjects_for(req), hooks)
    assert len(seen) == 4 * 5  # 4 attention layers, router on steps 1..5 of 6
    for maps in seen:
        assert maps[0, :, 4:].sum() == 0  # subject a never right of the box
        assert (maps.sum(dim=0) == 1).all()  # outside it, b takes every token (no background)
    free = tiny_generator.render(request(*(SubjectInput(n, e) for n, e in zip("ab", encodings))))
    boxed = tiny_generator.render(request(*subjects, return_routing_maps=True))
    assert boxed.routing_maps[0][:, SIZE // 2:].max() == 0
    assert np.abs(image_array(free.image) - image_array(boxed.image)).max() > 0.01


def test_a_box_without_the_router_restricts_the_single_character(tiny_generator, encodings):
    free = tiny_generator.render(request(SubjectInput("a", encodings[0])))
    boxed = tiny_generator.render(request(SubjectInput("a", encodings[0], box=LEFT), return_routing_maps=True))
    np.testing.assert_array_equal(boxed.routing_maps[0][:, :SIZE // 2], 1.0)
    np.testing.assert_array_equal(boxed.routing_maps[0][:, SIZE // 2:], 0.0)
    assert np.abs(image_array(free.image) - image_array(boxed.image)).max() > 0.01
    no_maps = tiny_generator.render(request(SubjectInput("a", encodings[0]), return_routing_maps=True))
    assert no_maps.routing_maps is None and "router was off" in no_maps.info["routing_maps"]


def test_bad_boxes_are_rejected(tiny_generator, encodings):
    with pytest.raises(EngineError, match="box"):
        tiny_generator.render(request(SubjectInput("a", encodings[0], box=(0.6, 0.0, 0.4, 1.0))))


def test_layout_freedom_changes_the_render_and_full_freedom_of_late_windows_is_the_bare_model(
        tiny_generator, encodings):
    subject = SubjectInput("a", encodings[0])
    published = tiny_generator.render(request(subject))
    freer = tiny_generator.render(request(subject, params={"layout_freedom": 0.5}))
    assert freer.info["settings"]["layout_freedom"] == 0.5
    assert np.abs(image_array(published.image) - image_array(freer.image)).max() > 0.01
    # conditioning confined to steps that layout freedom removes leaves the base model alone
    gone = tiny_generator.render(request(subject, params={"layout_freedom": 0.5, "ref_end_at": 0.4}))
    bare = tiny_generator.render(request())
    np.testing.assert_array_equal(image_array(gone.image), image_array(bare.image))
