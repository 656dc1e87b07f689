"""Imported bundles stay in their project: render jobs made elsewhere never draw another
project's characters, imported running renders do not stay running, and settings or
numbers no app could use are refused on import with one line."""
from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from engine.draft import DraftGenerator
from story import bundle, panels, projects, queue
from story.errors import InvalidInput
from story.models import Render, utcnow
from story.studio import Studio
from story.worker import Worker, recover_interrupted
from tests.draft_helpers import BLUE, RED
from tests.queue_helpers import add_pictured_character

GREEN = (20, 160, 60)


def _pictured_project(studio: Studio, name: str, colour) -> int:
    project = projects.create_project(studio, name, render_defaults={"width": 160, "height": 120})
    add_pictured_character(studio, project.id, "Mia", colour)
    panels.add_panel(studio, project.id, prompt="Mia waits", characters=["Mia"])
    return project.id


def _rewrite(path: Path, change) -> Path:
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    document = json.loads(members["project.json"])
    change(document)
    members["project.json"] = json.dumps(document).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


@pytest.fixture
def source_bundle(tmp_path) -> Path:
    """A bundle whose project has one failed, one queued and one running render of Mia."""
    source = Studio.open(tmp_path / "source")
    try:
        project_id = _pictured_project(source, "Travelling", RED)
        panel_id = panels.list_panels(source, project_id)[0].id
        jobs = [queue.enqueue(source, panel_id, engine="draft", seed=seed)[0] for seed in (1, 2, 3)]
        with source.db.write() as session:
            session.get(Render, jobs[0].id).status = "failed"
            running = session.get(Render, jobs[2].id)
            running.status, running.started_at = "running", utcnow() + timedelta(days=365)
        return bundle.export_bundle(source, project_id, tmp_path / "travelling.zip")
    finally:
        source.close()


@pytest.fixture
def crowded(tmp_path) -> Studio:
    """A data directory whose first characters (ids 1, 2) belong to other projects."""
    opened = Studio.open(tmp_path / "crowded")
    _pictured_project(opened, "Someone else's", GREEN)
    _pictured_project(opened, "Another", BLUE)
    yield opened
    opened.close()


def _mia_of(studio: Studio, project_id: int) -> int:
    return projects.get_project(studio, project_id).characters[0].id


def test_imported_jobs_render_only_the_imported_characters(crowded, source_bundle):
    copy = bundle.import_bundle(crowded, source_bundle)
    mia = _mia_of(crowded, copy.id)
    history = queue.jobs(crowded, [j.id for j in queue.jobs(crowded) if j.panel_id == copy.panels[0].id])
    assert [j.status for j in history] == ["failed", "queued", "failed"]
    assert history[2].error == "interrupted"  # it was running where the bundle was made
    assert all([c["id"] for c in j.params["characters"]] == [mia] for j in history)
    assert all(j.params["selected_before"] is None for j in history)
    again = queue.retry(crowded, history[0].id)
    Worker(crowded, DraftGenerator()).run_pending([history[1].id, again.id])
    for job in queue.jobs(crowded, [history[1].id, again.id]):
        assert job.status == "done"
        assert [s["id"] for s in job.params["subjects"]] == [mia]


def test_a_bundle_without_character_ids_is_remapped_by_name(crowded, source_bundle):
    _rewrite(source_bundle, lambda d: [c.pop("id", None) for c in d["characters"]])
    copy = bundle.import_bundle(crowded, source_bundle)
    queued = [j for j in queue.jobs(crowded) if j.panel_id == copy.panels[0].id and j.status == "queued"]
    assert [c["id"] for c in queued[0].params["characters"]] == [_mia_of(crowded, copy.id)]


def test_the_worker_refuses_a_character_of_another_project(crowded):
    ours, theirs = (p.id for p in projects.list_projects(crowded))
    panel_id = panels.list_panels(crowded, ours)[0].id
    job, = queue.enqueue(crowded, panel_id, engine="draft")
    with crowded.db.write() as session:  # what an old bundle import left behind
        row = session.get(Render, job.id)
        row.params = {**row.params, "characters": [{"id": _mia_of(crowded, theirs), "name": "Mia", "box": None}]}
    finished = Worker(crowded, DraftGenerator()).run_one()
    assert finished.status == "failed" and "another project" in finished.error
    assert finished.image_hash is None


def test_a_running_render_nobody_claimed_or_from_the_future_is_recovered(crowded):
    panel_id = panels.list_panels(crowded, projects.list_projects(crowded)[0].id)[0].id
    jobs = [queue.enqueue(crowded, panel_id, engine="draft", seed=seed)[0] for seed in (1, 2)]
    future = utcnow() + timedelta(days=30)
    with crowded.db.write() as session:
        unclaimed = session.get(Render, jobs[0].id)
        unclaimed.status, unclaimed.started_at = "running", future
        other_host = session.get(Render, jobs[1].id)
        other_host.status, other_host.worker_host, other_host.worker_pid = "running", "elsewhere", 7
        other_host.started_at = other_host.heartbeat_at = future
    assert sorted(recover_interrupted(crowded)) == [jobs[0].id, jobs[1].id]


def _raw_rewrite(path: Path, change) -> Path:
    """Edit project.json as text (for what json.dumps cannot write: NaN as given, deep nesting)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["project.json"] = change(members["project.json"].decode()).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _refused(studio: Studio, path: Path, match: str) -> None:
    before = projects.list_projects(studio)
    with pytest.raises(InvalidInput, match=match) as caught:
        bundle.import_bundle(studio, path)
    assert "\n" not in str(caught.value)
    assert projects.list_projects(studio) == before


@pytest.mark.parametrize("change, match", [
    (lambda d: d["panels"][0].update(seed=2**64), r"panels\[0\].seed: .*less than or equal to 9223372036854775807"),
    (lambda d: d["panels"][0]["renders"][0].update(seed=-2**70), r"renders\[0\].seed"),
    (lambda d: d["characters"][0].update(version=10**30), r"characters\[0\].version"),
    (lambda d: d["project"].update(page_settings={"font_size": 0.001, "min_font_size": 0.001}), "Font sizes"),
    (lambda d: d["project"].update(page_settings={"page_size": "400x400in"}), "too large"),
    (lambda d: d["project"].update(page_settings={"layout": 7}), "wrong type"),
    (lambda d: d["project"].update(render_defaults={"engine": "draft"}), "Unknown render setting.*engine"),
    (lambda d: d["panels"][0].update(overrides={"steps": "many"}), "wrong type"),
])
def test_numbers_and_settings_no_app_could_use_are_refused(crowded, source_bundle, change, match):
    _refused(crowded, _rewrite(source_bundle, change), match)


@pytest.mark.parametrize("change, match", [
    (lambda text: text.replace('"progress": 0.0', '"progress": NaN', 1), "NaN is not a JSON number"),
    (lambda text: text.replace('"timings": {}', '"timings": ' + "[" * 5000 + "]" * 5000, 1), "too deeply"),
    (lambda text: text.replace('"timings": {}', '"timings": {"a": ' + "[" * 100 + "]" * 100 + "}", 1), "too deeply"),
])
def test_nan_and_deep_nesting_are_refused(crowded, source_bundle, change, match):
    _refused(crowded, _raw_rewrite(source_bundle, change), match)


def test_gapped_and_negative_panel_positions_become_a_sequence(crowded, tmp_path):
    project_id = _pictured_project(crowded, "Gaps", RED)
    for prompt in ("second", "third"):
        panels.add_panel(crowded, project_id, prompt=prompt)
    path = bundle.export_bundle(crowded, project_id, tmp_path / "gaps.zip")
    _rewrite(path, lambda d: [p.update(position=at) for p, at in zip(d["panels"], (-4, 5, 9))])
    copy = bundle.import_bundle(crowded, path)
    assert [(p.number, p.prompt) for p in copy.panels] == [(1, "Mia waits"), (2, "second"), (3, "third")]
