"""The panel editor's engine settings: which engines describe their parameters, the controls
built from a description, and what a save stores (only what the writer changed)."""
from __future__ import annotations

import gradio as gr
import pytest

from app import engine_controls
from app.engine_settings import EngineSettings
from engine.anystory.params import describe_params
from app.panel_form import PanelForm
from story import characters, panels, projects

# Shaped like engine.anystory.params.describe_params(): a default that depends on the number
# of characters, a switch, a setting without bounds, and layout freedom listed last.
PARAMS = (
    {"name": "redux_scale", "type": "float", "default": 0.6, "default_multi": None, "minimum": 0.0,
     "maximum": 2.0, "help": "Strength of the subject tokens."},
    {"name": "ref_start_at", "type": "float", "default": 0.0, "default_multi": 0.09, "minimum": 0.0,
     "maximum": 1.0, "help": "Share of steps before the reference is attended."},
    {"name": "enable_router", "type": "bool", "default": False, "default_multi": True, "minimum": None,
     "maximum": None, "help": "Route each region to one character."},
    {"name": "tokens", "type": "int", "default": 4, "default_multi": None, "minimum": None, "maximum": None,
     "help": "Subject tokens per character."},
    {"name": "layout_freedom", "type": "float", "default": 0.0, "default_multi": None, "minimum": 0.0,
     "maximum": 0.5, "help": "Share of the first steps run without the characters."},
)
SETTINGS = EngineSettings("described", PARAMS)


def test_draft_has_no_settings_and_unknown_engines_fall_back_to_json():
    assert EngineSettings.of("draft").params == ()
    assert EngineSettings.of("some-other-engine").params is None
    assert EngineSettings.of("some-other-engine").as_json


@pytest.mark.parametrize("engine", ["anystory", "anystory-tiny"])
def test_anystory_is_described_by_its_params_module(engine):
    described = EngineSettings.of(engine).params
    assert sorted(described, key=lambda p: p["name"]) == sorted(describe_params(), key=lambda p: p["name"])


@pytest.mark.parametrize("engine, sampled", [("draft", False), ("anystory", True), ("anystory-tiny", True),
                                             ("some-other-engine", True)])
def test_steps_and_guidance_follow_the_engines_own_description(engine, sampled):
    # The draft says it has no sampler (DraftGenerator.samples); an engine nobody describes
    # keeps the two controls, since it may use them.
    assert EngineSettings.of(engine).sampled is sampled


def test_controls_show_bounds_defaults_and_help_with_layout_freedom_first():
    with gr.Blocks():
        controls, reset = engine_controls.build(SETTINGS)
    by_id = {c.elem_id: c for c in controls}
    assert list(by_id) == ["engine-redux-scale", "engine-ref-start-at", "engine-enable-router",
                           "engine-tokens", "engine-layout-freedom"]  # the order of the form's values
    freedom = by_id["engine-layout-freedom"]
    assert isinstance(freedom, gr.Slider) and (freedom.minimum, freedom.maximum, freedom.value) == (0.0, 0.5, 0.0)
    assert freedom.label == "Layout freedom" and "without the characters" in freedom.info
    assert "Default 0.0 (0.09 with several characters)." in by_id["engine-ref-start-at"].info
    assert isinstance(by_id["engine-enable-router"], gr.Checkbox)
    assert by_id["engine-enable-router"].info.endswith("Default off (on with several characters).")
    assert isinstance(by_id["engine-tokens"], gr.Number) and by_id["engine-tokens"].precision == 0
    assert reset is not None
    with gr.Blocks():
        assert engine_controls.build(EngineSettings.of("draft")) == ([], None)
        (box,), reset = engine_controls.build(EngineSettings.of("some-other-engine"))
    assert isinstance(box, gr.Code) and reset is None


def test_controls_show_the_defaults_for_the_panels_number_of_characters():
    one, two = SETTINGS.shown({}, 1), SETTINGS.shown({"redux_scale": 0.8}, 2)
    assert (one["ref_start_at"], one["enable_router"], one["redux_scale"]) == (0.0, False, 0.6)
    assert (two["ref_start_at"], two["enable_router"], two["redux_scale"]) == (0.09, True, 0.8)
    values = SETTINGS.widget_values(two)
    assert SETTINGS.from_widgets(values) == two
    typed = SETTINGS.from_widgets([0.60000001, 0.1, 1, 3.0, 0.25])
    assert typed == {"redux_scale": 0.6, "ref_start_at": 0.1, "enable_router": True, "tokens": 3, "layout_freedom": 0.25}
    with pytest.raises(ValueError, match="Tokens"):
        SETTINGS.from_widgets([0.6, 0.1, True, None, 0.0])


def test_only_changed_settings_are_stored_and_a_default_clears_one():
    before = SETTINGS.shown({"redux_scale": 0.8, "gone": 1}, 1)
    now = {**before, "layout_freedom": 0.3}
    # A second character joins: the untouched ref_start_at (shown 0.0) must not be pinned to 0.0.
    assert SETTINGS.stored({"redux_scale": 0.8, "gone": 1}, before, now, 2) == {"redux_scale": 0.8, "layout_freedom": 0.3}
    back = {**before, "redux_scale": 0.6}
    assert SETTINGS.stored({"redux_scale": 0.8}, before, back, 1) == {}
    assert SETTINGS.stored({}, before, before, 1) == {}


def test_a_panel_saves_json_settings_of_an_undescribed_engine_and_keeps_the_others(studio):
    project = projects.create_project(studio, "Settings")
    characters.add_character(studio, project.id, "Mira")
    panel = panels.add_panel(studio, project.id, prompt="Mira", characters=["Mira"],
                             overrides={"params": {"draft": {}, "anystory": {"redux_scale": 0.9}}})
    form = PanelForm.of(panel, {}, "some-other-engine")
    values = form.values()
    assert values["advanced0"] == "{}"
    values["advanced0"] = '{"strength": 0.5}'
    edited = PanelForm.from_values(values, "some-other-engine")
    assert edited.overrides(panel.overrides, form)["params"] == {
        "draft": {}, "anystory": {"redux_scale": 0.9}, "some-other-engine": {"strength": 0.5}}
