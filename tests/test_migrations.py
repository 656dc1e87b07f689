"""A database made at the first migration, with data, upgrades in place on open with
nothing lost and the new columns at their defaults."""
from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from story import characters, panels, projects, renders
from story.db import alembic_config, migrate
from story.paths import DataDir
from story.studio import Studio

ROWS = [
    "insert into projects values (1, 'Old Story', 'old story', 'Ann', 'Comic book', '{\"size\": \"A5\"}',"
    " '{\"steps\": 12}', '2025-01-01 10:00:00.000000', '2025-01-02 10:00:00.000000')",
    "insert into characters values (1, 1, 'Mia', 'mia', 'ROLE-A', 'a girl in red', 2,"
    " '2025-01-01 10:00:00.000000', '2025-01-01 10:00:00.000000')",
    "insert into character_images values (1, 1, 0, '" + "a" * 64 + "', '" + "b" * 64 + "', '" + "c" * 64
    + "', '" + "d" * 64 + "', 'sam', '2025-01-01 10:00:00.000000')",
    "insert into panels values (1, 1, 0, 'ROLE-A in the rain', 'It rained.', 42, '{\"steps\": 30}', NULL, 3,"
    " '2025-01-01 10:00:00.000000', '2025-01-01 10:00:00.000000')",
    "insert into panel_characters values (1, 1, 0, '[0.1, 0.2, 0.6, 0.9]')",
    "insert into balloons values (1, 1, 0, 1, 'shout', 'Hey!')",
    "insert into renders values (1, 1, 'done', 'draft', 'draft:v1', '{\"steps\": 4}', 42, '" + "e" * 64
    + "', 1.0, NULL, 0, '2025-01-01 10:00:00.000000', '2025-01-01 10:00:01.000000', '2025-01-01 10:00:05.500000')",
    "insert into renders values (2, 1, 'failed', 'anystory', 'flux:x', '{}', 7, NULL, 0.5, 'out of memory', 0,"
    " '2025-01-01 11:00:00.000000', NULL, NULL)",
    "update panels set selected_render_id = 1 where id = 1",
]


def test_a_database_at_revision_0001_upgrades_with_nothing_lost(tmp_path):
    data = DataDir(tmp_path / "data").create()
    engine = create_engine(f"sqlite:///{data.database}")
    migrate(engine, "0001")
    assert "notes" not in {c["name"] for c in inspect(engine).get_columns("renders")}
    with engine.begin() as connection:
        for statement in ROWS:
            connection.exec_driver_sql(statement)
    engine.dispose()

    studio = Studio.open(data.root)
    try:
        with studio.db.read() as session:
            sql = session.connection().exec_driver_sql
            head = ScriptDirectory.from_config(alembic_config(studio.db.writer)).get_current_head()
            assert sql("select version_num from alembic_version").scalar() == head
            assert sql("pragma integrity_check").scalar() == "ok"
        project = projects.get_project(studio, "old story")
        assert (project.author, project.style, project.page_settings, project.render_defaults) == (
            "Ann", "Comic book", {"size": "A5"}, {"steps": 12})
        mia = characters.get_character(studio, project.id, "ROLE-A")
        assert (mia.name, mia.description, mia.version, mia.image_hash, mia.segmenter) == (
            "Mia", "a girl in red", 2, "a" * 64, "sam")
        panel = project.panels[0]
        assert (panel.prompt, panel.caption, panel.seed, panel.overrides, panel.version) == (
            "ROLE-A in the rain", "It rained.", 42, {"steps": 30}, 3)
        assert [(c.name, c.box) for c in panel.characters] == [("Mia", (0.1, 0.2, 0.6, 0.9))]
        assert [(b.speaker, b.kind, b.text) for b in panel.balloons] == [("Mia", "shout", "Hey!")]
        assert (panel.selected_render_id, panel.selected_image_hash) == (1, "e" * 64)
        done, failed = renders.list_renders(studio, panel.id)
        assert (done.status, done.params, done.duration_s, done.notes, done.routing_maps_hash) == (
            "done", {"steps": 4}, 4.5, "", None)
        assert (failed.status, failed.error, failed.progress, failed.notes) == ("failed", "out of memory", 0.5, "")
        # columns added by later migrations take their defaults
        assert (done.timings, done.worker, failed.timings) == ({}, None, {})
        # the upgraded database takes new work
        panels.update_panel(studio, panel.id, expected_version=3, caption="It poured.")
    finally:
        studio.close()
