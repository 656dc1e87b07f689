"""Project, character and panel services on a real SQLite file."""
import pytest

from story import characters, panels, projects
from story.errors import Conflict, InvalidInput, NotFound


def test_project_names_are_unique_case_insensitively(studio):
    projects.create_project(studio, "The Fox")
    with pytest.raises(Conflict):
        projects.create_project(studio, "the  FOX")
    assert projects.get_project(studio, "THE FOX").name == "The Fox"


def test_character_names_unique_per_project_and_rename_keeps_version(studio):
    p = projects.create_project(studio, "P")
    mia = characters.add_character(studio, p.id, "Mia", alias="ROLE-A")
    with pytest.raises(Conflict):
        characters.add_character(studio, p.id, "MIA")
    with pytest.raises(Conflict):
        characters.add_character(studio, p.id, "Other", alias="ROLE-A")
    other = projects.create_project(studio, "Q")
    characters.add_character(studio, other.id, "Mia")  # another project may reuse the name
    renamed = characters.update_character(studio, p.id, "ROLE-A", name="Mia Rose")
    assert (renamed.name, renamed.version) == ("Mia Rose", mia.version)


def test_stale_panel_edit_is_refused_and_loses_nothing(studio):
    p = projects.create_project(studio, "P")
    panel = panels.add_panel(studio, p.id, prompt="a quiet street")
    first = panels.update_panel(studio, panel.id, expected_version=panel.version, caption="Tab one")
    with pytest.raises(Conflict, match="changed elsewhere"):
        panels.update_panel(studio, panel.id, expected_version=panel.version, caption="Tab two")
    assert panels.get_panel(studio, panel.id).caption == "Tab one"
    assert panels.get_panel(studio, panel.id).version == first.version


def test_panels_reorder_duplicate_delete(studio):
    p = projects.create_project(studio, "P")
    ids = [panels.add_panel(studio, p.id, prompt=f"shot {i}").id for i in range(3)]
    copy = panels.duplicate_panel(studio, ids[0])
    assert [x.prompt for x in panels.list_panels(studio, p.id)] == ["shot 0", "shot 0", "shot 1", "shot 2"]
    panels.move_panel(studio, ids[2], 0)
    assert [x.id for x in panels.list_panels(studio, p.id)] == [ids[2], ids[0], copy.id, ids[1]]
    panels.delete_panel(studio, ids[0])
    listed = panels.list_panels(studio, p.id)
    assert [x.id for x in listed] == [ids[2], copy.id, ids[1]]
    assert [x.position for x in listed] == [0, 1, 2]
    with pytest.raises(InvalidInput):
        panels.reorder_panels(studio, p.id, [ids[2], copy.id])


def test_characters_boxes_and_dialogue(studio):
    p = projects.create_project(studio, "P")
    characters.add_character(studio, p.id, "Mia", alias="ROLE-A")
    characters.add_character(studio, p.id, "Fox")
    panel = panels.add_panel(studio, p.id, prompt="ROLE-A and Fox", characters=[("ROLE-A", (0, 0, 0.5, 1)), "fox"])
    assert [(c.name, c.box) for c in panel.characters] == [("Mia", (0.0, 0.0, 0.5, 1.0)), ("Fox", None)]
    with pytest.raises(InvalidInput, match="box"):
        panels.set_panel_characters(studio, panel.id, [("Mia", (0.6, 0, 0.5, 1))])
    with pytest.raises(NotFound):
        panels.set_panel_characters(studio, panel.id, ["Nobody"])
    said = panels.set_dialogue(studio, panel.id, [("Mia", "speech", "Hello <b>&"), (None, "thought", "hm")])
    assert [(b.speaker, b.kind, b.text) for b in said.balloons] == [("Mia", "speech", "Hello <b>&"), (None, "thought", "hm")]


def test_deleting_a_used_character_needs_confirmation(studio):
    p = projects.create_project(studio, "P")
    characters.add_character(studio, p.id, "Mia")
    panel = panels.add_panel(studio, p.id, prompt="Mia", characters=["Mia"], balloons=[("Mia", "speech", "Hi")])
    with pytest.raises(Conflict, match="confirm"):
        characters.delete_character(studio, p.id, "Mia")
    assert characters.panels_using(studio, p.id, "Mia") == [1]
    characters.delete_character(studio, p.id, "Mia", confirm=True)
    after = panels.get_panel(studio, panel.id)
    assert after.characters == [] and after.balloons[0].text == "Hi" and after.balloons[0].speaker is None
    assert after.version == panel.version + 1


def test_delete_project_removes_everything(studio):
    p = projects.create_project(studio, "P")
    characters.add_character(studio, p.id, "Mia")
    panels.add_panel(studio, p.id, prompt="x", characters=["Mia"])
    projects.delete_project(studio, "P")
    assert projects.list_projects(studio) == []
    with studio.db.read() as session:
        for table in ("characters", "panels", "panel_characters"):
            assert session.connection().exec_driver_sql(f"select count(*) from {table}").scalar() == 0
