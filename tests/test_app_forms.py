"""The panel editor's form against real panels, and the sample story loader."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine_settings import parse_json
from app.panel_form import NARRATOR, PanelForm
from story import characters, panels, projects
from story.sample import load_sample


def test_a_panel_survives_the_form_round_trip(studio):
    project = projects.create_project(studio, "Form")
    characters.add_character(studio, project.id, "Mira")
    panel = panels.add_panel(
        studio, project.id, prompt="Mira at the gate", caption="Dawn.", characters=[("Mira", (0.1, 0.2, 0.5, 0.9))],
        balloons=[("Mira", "shout", "Wait!"), (None, "speech", "(far away)")], seed=7,
        overrides={"width": 1024, "height": 768, "steps": 30, "params": {"anystory": {"x": 1}}},
    )
    form = PanelForm.of(panel, {}, "draft")
    again = PanelForm.from_values(form.values(), "draft")
    assert again == form
    assert form.size == "Landscape 4:3 · 1024×768" and form.steps == 30 and form.guidance == 3.5
    assert form.dialogue() == [("Mira", "shout", "Wait!"), (None, "speech", "(far away)")]
    assert form.balloons[1][0] == NARRATOR
    # Saving the draft engine's (empty) settings keeps the AnyStory ones.
    assert form.overrides(panel.overrides, form) == {
        "width": 1024, "height": 768, "steps": 30, "params": {"anystory": {"x": 1}}}
    # An untouched form stores nothing new, so leaving a panel unchanged writes nothing.
    untouched = PanelForm.of(panels.add_panel(studio, project.id, prompt="y"), {}, "draft")
    assert untouched.overrides({}, untouched) == {}


def test_empty_balloon_rows_are_dropped_and_bad_seeds_refused(studio):
    project = projects.create_project(studio, "Rows")
    form = PanelForm.of(panels.add_panel(studio, project.id, prompt="x", seed=1), {"steps": 12}, "draft")
    assert form.steps == 12  # the project's default when the panel has none
    values = form.values()
    assert PanelForm.from_values(values, "draft").balloons == []
    values["seed"] = -3
    with pytest.raises(ValueError, match="seed"):
        PanelForm.from_values(values, "draft")


@pytest.mark.parametrize("text, message", [("[1, 2]", "JSON object"), ("{oops", "not valid JSON")])
def test_advanced_settings_must_be_a_json_object(text, message):
    with pytest.raises(ValueError, match=message):
        parse_json(text)
    assert parse_json("  ") == {}


def test_the_sample_story_loads_once_with_pictures(studio):
    sample = load_sample(studio)
    assert [c.name for c in sample.characters] == ["Mira", "Rusty", "Professor Hoot"]
    assert all(c.has_picture for c in sample.characters)
    assert len(sample.panels) == 5
    assert all(p.characters and (p.caption or p.balloons) for p in sample.panels)
    coverage = (np.asarray(studio.assets.open(sample.characters[0].mask_hash)) >= 128).mean()
    assert 0.1 < coverage < 0.6  # a figure on a plain background, not the whole picture
    assert load_sample(studio).id == sample.id
    assert len(projects.list_projects(studio)) == 1
