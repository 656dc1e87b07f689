"""The render queue end to end on a real data directory: jobs, worker, history, selection."""
from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file
from sqlalchemy import update

from engine.draft import DraftGenerator
from story import characters, panels, projects, queue, renders
from story.errors import InvalidInput
from story.models import SubjectEncoding
from story.routing_maps import load_routing_maps
from story.worker import Worker
from tests.draft_helpers import BLUE, GREEN, RED
from tests.queue_helpers import (BlockingGenerator, CountingGenerator, FailingGenerator,
                                 add_pictured_character)


@pytest.fixture
def story(studio):
    """A project with two pictured characters (Mia, Fox) and three panels."""
    project = projects.create_project(studio, "Fox Tales", render_defaults={"width": 256, "height": 192})
    add_pictured_character(studio, project.id, "Mia", RED, alias="ROLE-A", description="a girl in a red coat")
    add_pictured_character(studio, project.id, "Fox", BLUE)
    ids = [
        panels.add_panel(studio, project.id, prompt=f"ROLE-A meets Fox, scene {i}",
                         characters=["Mia", "Fox"], seed=10 * i).id
        for i in range(3)
    ]
    return project.id, ids


def draft_worker(studio) -> Worker:
    return Worker(studio, DraftGenerator())


def render_now(studio, panel_id, worker=None, **kwargs):
    """Queue renders of a panel with the draft engine and run them; return them finished."""
    worker = worker or draft_worker(studio)
    jobs = queue.enqueue(studio, panel_id, engine=worker.generator.name, **kwargs)
    worker.run_pending([j.id for j in jobs])
    return queue.jobs(studio, [j.id for j in jobs])


def image_bytes(studio, render) -> bytes:
    return studio.assets.get_bytes(render.image_hash)


def test_same_seed_through_the_queue_gives_identical_png_bytes(studio, story):
    _, ids = story
    first, second = render_now(studio, ids[0], seed=42)[0], render_now(studio, ids[0], seed=42)[0]
    other = render_now(studio, ids[0], seed=43)[0]
    assert first.status == second.status == "done"
    assert image_bytes(studio, first) == image_bytes(studio, second)
    assert image_bytes(studio, first) != image_bytes(studio, other)
    image = Image.open(io.BytesIO(image_bytes(studio, first)))
    assert image.size == (256, 192)  # the project's render defaults
    assert first.params["composed_prompt"] == "a girl in a red coat meets Fox, scene 0"
    assert [s["name"] for s in first.params["subjects"]] == ["Mia", "Fox"]
    assert first.fingerprint == DraftGenerator().fingerprint
    assert set(first.timings) >= {"encode_ms", "render_ms", "store_ms"}


def test_24_panels_with_3_characters_encode_3_times_also_after_restart(studio, tmp_path):
    project = projects.create_project(studio, "Long", render_defaults={"width": 96, "height": 96})
    names = ["Ann", "Bo", "Cy"]
    for name, colour in zip(names, (RED, BLUE, GREEN)):
        add_pictured_character(studio, project.id, name, colour)
    for i in range(24):
        panels.add_panel(studio, project.id, prompt=f"shot {i}", characters=[names[i % 3], names[(i + 1) % 3]])
    generator = CountingGenerator()
    batch = queue.render_all(studio, project.id, engine=generator.name)
    Worker(studio, generator).run_pending([j.id for j in batch.jobs])
    assert generator.encode_calls == 3
    assert all(j.status == "done" for j in queue.jobs(studio, [j.id for j in batch.jobs]))
    studio.close()

    from story.studio import Studio

    reopened = Studio.open(tmp_path / "data")
    restarted = CountingGenerator()
    first_three = [j for p in panels.list_panels(reopened, project.id)[:3]
                   for j in queue.enqueue(reopened, p.id, engine=restarted.name)]  # all 3 characters
    Worker(reopened, restarted).run_pending([j.id for j in first_three])
    assert restarted.encode_calls == 0
    assert len(list(reopened.data_dir.encodings.glob("*.safetensors"))) == 3

    from tests.queue_helpers import set_picture

    set_picture(reopened, project.id, characters.get_character(reopened, project.id, "Bo").id, GREEN)
    Worker(reopened, restarted).run_pending([j.id for j in queue.render_all(reopened, project.id, engine=restarted.name).jobs])
    assert restarted.encode_calls == 1  # only Bo's new picture
    assert len(list(reopened.data_dir.encodings.glob("*.safetensors"))) == 3  # Bo's old version removed
    reopened.close()


@pytest.mark.parametrize("damage", ["missing", "truncated", "flipped"])
def test_missing_or_damaged_encoding_file_is_encoded_again(studio, story, damage):
    _, ids = story
    render_now(studio, ids[0])
    files = sorted(studio.data_dir.encodings.glob("*.safetensors"))
    assert len(files) == 2
    data = files[0].read_bytes()
    tensors = load_file(files[0])
    if damage == "missing":
        files[0].unlink()
    elif damage == "truncated":
        files[0].write_bytes(data[: len(data) // 2])
    else:
        files[0].write_bytes(data[:-10] + bytes(b ^ 0xFF for b in data[-10:]))
    generator = CountingGenerator()
    done = render_now(studio, ids[1], worker=Worker(studio, generator))[0]
    assert (done.status, generator.encode_calls) == ("done", 1)
    again = load_file(files[0])  # the same encoding, written again
    assert again.keys() == tensors.keys() and all(np.array_equal(again[k], tensors[k]) for k in tensors)


@pytest.mark.parametrize("header", [b"[]", b'{"__metadata__": ["not", "strings"]}', b"{"])
def test_an_unchecked_encoding_file_with_a_bad_header_is_encoded_again(studio, story, header):
    """A row indexed before migration 0003 has no checksum: the file itself is still checked."""
    _, ids = story
    render_now(studio, ids[0])
    with studio.db.write() as session:
        session.execute(update(SubjectEncoding).values(sha256=""))
    files = sorted(studio.data_dir.encodings.glob("*.safetensors"))
    files[0].write_bytes(len(header).to_bytes(8, "little") + header)
    generator = CountingGenerator()
    done = render_now(studio, ids[1], worker=Worker(studio, generator))[0]
    assert (done.status, generator.encode_calls) == ("done", 1)


def run_in_background(worker: Worker, job_id: int, studio) -> None:
    worker.start()
    try:
        for _ in range(200):
            if queue.jobs(studio, [job_id])[0].finished:
                return
            threading.Event().wait(0.05)
        raise AssertionError(f"job {job_id} did not finish")
    finally:
        worker.stop(10)


def test_cancel_stops_a_running_job_between_steps_and_a_queued_job_at_once(studio, story):
    _, ids = story
    generator = BlockingGenerator()
    running, = queue.enqueue(studio, ids[0], engine=generator.name)
    waiting, = queue.enqueue(studio, ids[1], engine=generator.name)
    worker = Worker(studio, generator, poll_s=0.05)
    worker.start()
    try:
        assert generator.started.wait(10)
        assert queue.cancel(studio, waiting.id).status == "cancelled"
        assert queue.cancel(studio, running.id).cancel_requested
        generator.release.set()
    finally:
        worker.stop(10)
    after = queue.jobs(studio, [running.id, waiting.id])
    assert [(j.status, j.image_hash) for j in after] == [("cancelled", None), ("cancelled", None)]
    assert after[1].started_at is None  # never claimed
    assert panels.get_panel(studio, ids[0]).selected_render_id is None


def test_cancel_with_the_draft_engine_mid_render(studio, story):
    _, ids = story
    job, = queue.enqueue(studio, ids[0], engine="draft")
    steps = []

    def cancel_at_first_step(render_id: int, fraction: float) -> None:
        steps.append(fraction)
        if len(steps) == 1:
            queue.cancel(studio, render_id)

    Worker(studio, DraftGenerator(), listener=cancel_at_first_step).run_pending([job.id])
    assert queue.jobs(studio, [job.id])[0].status == "cancelled"
    assert len(steps) == 1  # the engine stopped at its next check


def test_stopping_a_background_worker_puts_its_job_back_in_the_queue(studio, story):
    _, ids = story
    generator = BlockingGenerator()
    job, = queue.enqueue(studio, ids[0], engine=generator.name)
    worker = Worker(studio, generator, poll_s=0.05)
    worker.start()
    assert generator.started.wait(10)
    stopper = threading.Thread(target=worker.stop, args=(10,))
    stopper.start()
    generator.release.set()
    stopper.join(10)
    again = queue.jobs(studio, [job.id])[0]
    assert (again.status, again.started_at) == ("queued", None)
    generator.started.clear()
    run_in_background(Worker(studio, generator, poll_s=0.05), job.id, studio)
    assert queue.jobs(studio, [job.id])[0].status == "done"


def test_rerendering_one_panel_touches_nothing_else(studio, story):
    project_id, ids = story
    batch = queue.render_all(studio, project_id, engine="draft")
    draft_worker(studio).run_pending([j.id for j in batch.jobs])
    before = {p.id: (p, renders.list_renders(studio, p.id)) for p in panels.list_panels(studio, project_id)}
    files_before = studio.assets.all_hashes()

    new = render_now(studio, ids[1], seed="new")[0]

    after = {p.id: (p, renders.list_renders(studio, p.id)) for p in panels.list_panels(studio, project_id)}
    for other in (ids[0], ids[2]):
        assert after[other] == before[other]
    assert after[ids[1]][0].selected_render_id == new.id  # an explicit re-render is selected
    assert after[ids[1]][1][:-1] == before[ids[1]][1]  # the history grew by one, nothing changed
    assert files_before <= studio.assets.all_hashes()


def test_engine_failure_marks_the_job_failed_and_keeps_the_selection(studio, story):
    _, ids = story
    good = render_now(studio, ids[0])[0]
    failed = render_now(studio, ids[0], worker=Worker(studio, FailingGenerator()))[0]
    assert (failed.status, failed.error, failed.image_hash) == ("failed", FailingGenerator.message, None)
    assert panels.get_panel(studio, ids[0]).selected_render_id == good.id
    with pytest.raises(InvalidInput, match="only failed or cancelled"):
        queue.retry(studio, good.id)
    again = queue.retry(studio, failed.id)
    assert (again.status, again.seed, again.engine) == ("queued", failed.seed, "failing")


def test_variants_have_consecutive_seeds_and_leave_the_choice_to_the_writer(studio, story):
    _, ids = story
    first = render_now(studio, ids[0], seed=100, variants=3)
    assert [(r.seed, r.status) for r in first] == [(100, "done"), (101, "done"), (102, "done")]
    assert len({r.image_hash for r in first}) == 3
    assert panels.get_panel(studio, ids[0]).selected_render_id == first[0].id  # the panel had none
    more = render_now(studio, ids[0], seed="same", variants=2)
    assert [r.seed for r in more] == [100, 101]  # the panel's seed: its selected render's since then
    assert panels.get_panel(studio, ids[0]).selected_render_id == first[0].id
    renders.select_render(studio, ids[0], more[1].id)
    chosen = panels.get_panel(studio, ids[0])
    assert (chosen.selected_render_id, chosen.seed) == (more[1].id, 101)


def test_render_missing_and_render_all(studio, story):
    project_id, ids = story
    empty = panels.add_panel(studio, project_id, prompt="  ")
    render_now(studio, ids[0])
    missing = queue.render_missing(studio, project_id, engine="draft")
    assert [j.panel_id for j in missing.jobs] == ids[1:]
    assert missing.skipped == ["Panel 4: no prompt and no characters."]
    assert queue.render_missing(studio, project_id, engine="draft").jobs == []  # already pending
    draft_worker(studio).run_pending()
    assert all(p.selected_render_id for p in panels.list_panels(studio, project_id) if p.id != empty.id)
    everything = queue.render_all(studio, project_id, engine="draft")
    assert [j.panel_id for j in everything.jobs] == ids
    with pytest.raises(InvalidInput, match="no prompt and no characters"):
        queue.enqueue(studio, empty.id, engine="draft")


def test_deleted_or_unpictured_characters_are_left_out_with_a_note(studio, story):
    project_id, _ = story
    characters.add_character(studio, project_id, "Owl")
    panel = panels.add_panel(studio, project_id, prompt="Mia, Fox and Owl at night", characters=["Mia", "Fox", "Owl"])
    job, = queue.enqueue(studio, panel.id, engine="draft")
    characters.delete_character(studio, project_id, "Fox", confirm=True)
    draft_worker(studio).run_pending([job.id])
    done = queue.jobs(studio, [job.id])[0]
    assert done.status == "done"
    assert "Fox was deleted after this render was queued" in done.notes
    assert "Owl has no picture yet" in done.notes
    assert [s["name"] for s in done.params["subjects"]] == ["Mia"]


def test_routing_maps_are_kept_with_the_render(studio, story):
    project_id, _ = story
    projects.update_project(studio, project_id, render_defaults={"width": 320, "height": 200, "routing_maps": True})
    panel = panels.add_panel(studio, project_id, prompt="two friends",
                             characters=[("Mia", (0.0, 0.2, 0.4, 1.0)), "Fox"])
    done = render_now(studio, panel.id)[0]
    maps = load_routing_maps(studio, done)
    assert [m.shape for m in maps] == [(200, 320), (200, 320)]
    mia = maps[0]
    assert mia.max() == 1.0 and mia[:, 128:].max() == 0.0 and mia[:40].max() == 0.0  # inside its box
    assert maps[1].sum() > 0


def test_render_settings_overlay_and_bad_settings(studio, story):
    project_id, ids = story
    projects.update_project(studio, project_id, render_defaults={
        "width": 320, "height": 240, "params": {"anystory": {"start": 0.2}},
    })
    panels.update_panel(studio, ids[0], overrides={"height": 160})
    done = render_now(studio, ids[0], settings={"steps": 4})[0]
    assert Image.open(io.BytesIO(image_bytes(studio, done))).size == (320, 160)
    assert (done.params["steps"], done.params["advanced"]) == (4, {})  # anystory's params not sent to draft
    panels.update_panel(studio, ids[1], overrides={"widht": 300})
    with pytest.raises(InvalidInput, match="widht"):
        queue.enqueue(studio, ids[1], engine="draft")
    with pytest.raises(InvalidInput, match="seed"):
        queue.enqueue(studio, ids[0], engine="draft", seed=-1)


def test_two_workers_never_run_the_same_job(studio, story):
    project_id, ids = story
    seen = []

    class Recording(DraftGenerator):
        def render(self, request, progress=None, cancel=None):
            seen.append(request.seed)
            return super().render(request, progress, cancel)

    jobs = [j for i in ids for j in queue.enqueue(studio, i, engine="draft", seed=100 * i, variants=4)]
    workers = [Worker(studio, Recording()) for _ in range(2)]
    threads = [threading.Thread(target=w.run_pending) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(seen) == sorted(j.seed for j in jobs)
    assert all(j.status == "done" for j in queue.jobs(studio, [j.id for j in jobs]))


def test_routing_maps_png_round_trip():
    from story.routing_maps import maps_image, split_maps

    ramp = np.tile(np.linspace(0, 1, 8, dtype=np.float32), (4, 1))
    stacked = maps_image([ramp, 1 - ramp], (8, 4))
    assert stacked.size == (8, 8)
    back = split_maps(stacked, 2)
    assert np.abs(back[0] - ramp).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="not the image's"):
        maps_image([ramp], (4, 8))
