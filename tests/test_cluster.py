"""The render farm on a local Ray runtime with 2 CPU actors (one runtime for the module, about
5 s to start): stories rendered through the dispatcher equal the in-process renders, each
character is encoded once, a killed actor's job is retried and finishes, cancel reaches a job
on an actor, and the CLI's --cluster paths (including an unreachable cluster)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial

import numpy as np
import pytest
from sqlalchemy import func, select

from app.context import AppContext
from app.settings_cluster import cluster_text
from commands import main
from commands.serve import restart_worker, start_worker
from engine.draft import DraftGenerator
from engine.registry import EngineConfig, create_generator
from story import models, panels, projects, queue, renders
from story.cluster import ClusterConfig, connect, disconnect
from story.dispatcher import Dispatcher
from story.studio import Studio
from story.worker import Worker
from tests.anystory_helpers import tiny_generator  # noqa: F401 (fixture)
from tests.conftest import REPO
from tests.draft_helpers import BLUE, RED
from tests.queue_helpers import SlowGenerator, add_pictured_character, tiny_anystory_engine

LOCAL = ClusterConfig("local", 2)


@pytest.fixture(scope="module", autouse=True)
def ray_runtime():
    """One local Ray runtime (2 CPUs, no dashboard, small object store) for the whole module."""
    started = connect(LOCAL)
    yield
    disconnect(started)


def build_story(studio: Studio, size: tuple[int, int] = (160, 120), steps: int = 25) -> int:
    """Two pictured characters and five panels using them in different combinations."""
    project = projects.create_project(studio, "Farm", render_defaults={"width": size[0], "height": size[1],
                                                                       "steps": steps})
    add_pictured_character(studio, project.id, "Mia", RED, alias="ROLE-A", description="a girl in red")
    add_pictured_character(studio, project.id, "Bo", BLUE, description="a boy in blue")
    casts = [["Mia"], ["Mia", "Bo"], ["Bo"], [("Mia", (0.0, 0.0, 0.5, 1.0)), "Bo"], ["Mia"]]
    for i, cast in enumerate(casts):
        panels.add_panel(studio, project.id, prompt=f"scene {i}: ROLE-A at the market", characters=cast, seed=10 + i)
    return project.id


def rendered_hashes(studio: Studio, project_id: int) -> list[list[str]]:
    """Per panel in order, the image hashes of its done renders."""
    rows = panels.list_panels(studio, project_id)
    return [[r.image_hash for r in renders.list_renders(studio, p.id) if r.status == "done"] for p in rows]


def encodings_stored(studio: Studio) -> int:
    with studio.db.read() as session:
        return session.scalar(select(func.count()).select_from(models.SubjectEncoding))


def render_in_process(tmp_path, name: str, generator, **story) -> list[list[str]]:
    studio = Studio.open(tmp_path / name)
    project_id = build_story(studio, **story)
    queue.render_all(studio, project_id, engine=generator.name)
    Worker(studio, generator).run_pending()
    return rendered_hashes(studio, project_id)


def render_on_cluster(studio: Studio, make_factory, **story) -> tuple[int, Dispatcher]:
    project_id = build_story(studio, **story)
    dispatcher = Dispatcher(studio, LOCAL, make_factory)
    queue.render_all(studio, project_id, engine=dispatcher.generator.name)
    dispatcher.run_pending()
    return project_id, dispatcher


def test_draft_story_on_two_actors_equals_in_process_renders(studio, tmp_path):
    project_id, dispatcher = render_on_cluster(studio, lambda gpu: DraftGenerator)
    with dispatcher:
        view = dispatcher.status()
        settings = cluster_text(AppContext(studio, EngineConfig(), cluster=LOCAL, worker=dispatcher))
    cluster = rendered_hashes(studio, project_id)
    assert [len(done) for done in cluster] == [1] * 5  # every panel rendered once
    assert cluster == render_in_process(tmp_path, "reference", DraftGenerator())
    assert [actor.device for actor in view.actors] == ["CPU", "CPU"]
    assert sorted(job for actor in view.actors for job in actor.rendered) == [1, 2, 3, 4, 5]
    assert all(actor.rendered for actor in view.actors)  # both actors worked
    assert sum(actor.encodings_made for actor in view.actors) == 2 == encodings_stored(studio)
    for panel in panels.list_panels(studio, project_id):
        assert panel.selected_render_id is not None
    assert "`local` with 2 render actors" in settings  # the Settings tab shows the actors
    for actor in view.actors:
        assert f"| {actor.index} | {actor.host} | {actor.pid} | CPU | idle | {len(actor.rendered)} | 0 | " in settings


def test_settings_say_how_to_start_a_cluster_or_why_it_failed(studio):
    assert "--cluster local" in cluster_text(AppContext(studio, EngineConfig()))
    failed = AppContext(studio, EngineConfig(), cluster=ClusterConfig("ray://gpu-box:10001"), worker_error="no route")
    assert "`ray://gpu-box:10001`: could not start: no route" in cluster_text(failed)


def test_tiny_anystory_story_on_two_actors_equals_in_process_renders(studio, tmp_path, tiny_generator):
    # the actors build the tiny engine themselves: the "anystory-tiny" name is registered only
    # in the test process (tests/conftest.py), not in Ray's worker processes
    story = {"size": (64, 64), "steps": 3}
    project_id, dispatcher = render_on_cluster(studio, lambda gpu: tiny_anystory_engine, **story)
    with dispatcher:
        view = dispatcher.status()
    cluster = rendered_hashes(studio, project_id)
    assert [len(done) for done in cluster] == [1] * 5
    assert sum(actor.encodings_made for actor in view.actors) == 2 == encodings_stored(studio)
    assert cluster == render_in_process(tmp_path, "reference", tiny_generator, **story)


def wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_in_background(dispatcher: Dispatcher, ids: list[int]) -> threading.Thread:
    thread = threading.Thread(target=dispatcher.run_pending, args=(ids,), daemon=True)
    thread.start()
    return thread


def test_killed_actor_job_is_retried_on_another_actor_and_nothing_is_lost(studio):
    project_id = build_story(studio)
    with Dispatcher(studio, LOCAL, lambda gpu: partial(SlowGenerator, 0.3)) as dispatcher:
        jobs = queue.render_all(studio, project_id, engine=dispatcher.generator.name).jobs
        thread = run_in_background(dispatcher, [job.id for job in jobs])
        wait_for(lambda: any(a.job_id and 0 < a.progress < 0.5 for a in dispatcher.status().actors))
        victim = next(a for a in dispatcher.status().actors if a.job_id and 0 < a.progress < 0.5)
        os.kill(victim.pid, signal.SIGKILL)
        thread.join(120)
        assert not thread.is_alive()
        # Ray restarts it (each run_pending round also asks the actors how they are)
        wait_for(lambda: dispatcher.run_pending() or dispatcher.status().actors[victim.index].restarts == 1)
        view = dispatcher.status()

    lost = renders.get_render(studio, victim.job_id)
    assert (lost.status, lost.error) == ("failed", "interrupted")
    again = renders.get_render(studio, view.retried[victim.job_id])
    assert again.status == "done" and again.panel_id == lost.panel_id and again.seed == lost.seed
    assert again.id in view.actors[1 - victim.index].rendered  # on the other actor
    assert view.retried == {victim.job_id: again.id}  # one retry, nothing else interrupted
    assert [len(done) for done in rendered_hashes(studio, project_id)] == [1] * 5  # none twice, none lost
    assert queue.jobs(studio, pending_only=True) == []
    assert view.actors[victim.index].pid != victim.pid


def test_cancel_reaches_a_job_running_on_an_actor(studio):
    project_id = build_story(studio)
    with Dispatcher(studio, LOCAL, lambda gpu: partial(SlowGenerator, 0.5)) as dispatcher:
        first = queue.enqueue(studio, panels.list_panels(studio, project_id)[1].id, engine=dispatcher.generator.name)[0]
        thread = run_in_background(dispatcher, [first.id])
        wait_for(lambda: renders.get_render(studio, first.id).progress > 0)  # running, progress written
        asked = time.monotonic()
        queue.cancel(studio, first.id)
        thread.join(30)
        stopped_in = time.monotonic() - asked
    job = renders.get_render(studio, first.id)
    assert job.status == "cancelled" and job.progress < 1 and job.image_hash is None
    assert stopped_in < 3.0  # between two steps (0.5 s each), not after the whole render


def test_cli_renders_on_the_cluster_and_reports_its_actors(studio, capsys):
    build_story(studio)
    code = main(["render", "Farm", "--engine", "draft", "--cluster", "local", "--cluster-workers", "2",
                 "--data-dir", str(studio.root), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["status"] for r in out["renders"]] == ["done"] * 5
    assert out["cluster"]["address"] == "local" and len(out["cluster"]["actors"]) == 2
    assert {a["doing"] for a in out["cluster"]["actors"]} == {"idle"}
    assert sum(len(a["rendered"]) for a in out["cluster"]["actors"]) == 5

    failed = queue.enqueue(studio, panels.list_panels(studio, "Farm")[0].id, engine="draft")[0]
    queue.cancel(studio, failed.id)
    code = main(["retry", str(failed.id), "--cluster", "local", "--data-dir", str(studio.root), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["renders"][0]["status"] == "done" and out["renders"][0]["seed"] == failed.seed


def test_a_bad_cluster_value_is_one_clear_line(studio, capsys):
    assert main(["render", "x", "--cluster", "lan", "--data-dir", str(studio.root)]) == 2
    assert capsys.readouterr().err.strip() == "error: --cluster wants none, local or ray://HOST:PORT; got 'lan'."


def test_an_unreachable_cluster_says_so_once_and_loses_nothing_queued(studio):
    project_id = build_story(studio)
    queued = queue.render_all(studio, project_id, engine="draft").jobs
    env = {**os.environ, "RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S": "1", "RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S": "1"}
    for argv in (["render", "Farm"], ["retry", str(queued[0].id)]):
        proc = subprocess.run(
            [sys.executable, "launch.py", *argv, "--cluster", "ray://127.0.0.1:9", "--data-dir", str(studio.root)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("error: Cannot reach the Ray cluster at ray://127.0.0.1:9")
    assert [job.status for job in queue.jobs(studio)] == ["queued"] * 5


def test_the_app_serves_on_the_cluster_and_reloads_its_engine_there(studio):
    project_id = build_story(studio)
    ctx = AppContext(studio, EngineConfig(engine="draft"), cluster=LOCAL)
    start_worker(ctx)
    wait_for(lambda: ctx.worker is not None or ctx.worker_error)
    first = ctx.worker
    restart_worker(ctx)  # what the Settings tab's memory profile button does
    wait_for(lambda: ctx.worker is not None and ctx.worker is not first or ctx.worker_error)
    assert ctx.worker_error is None and isinstance(ctx.worker, Dispatcher)
    jobs = queue.render_all(studio, project_id, engine="draft").jobs
    ctx.worker.wake()
    wait_for(lambda: all(job.finished for job in queue.jobs(studio, [job.id for job in jobs])))
    ctx.worker.stop(timeout=10)
    assert [job.status for job in queue.jobs(studio, [job.id for job in jobs])] == ["done"] * 5
    assert sum(len(actor.rendered) for actor in ctx.worker.status().actors) == 5


def test_likeness_and_a_region_redo_run_on_the_actors(studio):
    from PIL import Image

    from story.region_redo import enqueue_region

    project_id, dispatcher = render_on_cluster(studio, lambda gpu: DraftGenerator)
    first = panels.list_panels(studio, project_id)[1]  # Mia and Bo
    original = renders.get_render(studio, first.selected_render_id)
    assert [s["name"] for s in original.likeness["subjects"]] == ["Mia", "Bo"]
    assert all(0.0 <= s["score"] <= 1.0 for s in original.likeness["subjects"])
    region = np.zeros((120, 160), bool)
    region[20:80, 30:110] = True
    redo = enqueue_region(studio, original.id, Image.fromarray(region.astype(np.uint8) * 255), engine="draft")
    with dispatcher:
        dispatcher.run_pending([redo.id])
    done = renders.get_render(studio, redo.id)
    assert done.status == "done" and done.parent_render_id == original.id and done.likeness["subjects"]
    before = np.asarray(studio.assets.open(original.image_hash).convert("RGB"))
    after = np.asarray(studio.assets.open(done.image_hash).convert("RGB"))
    assert np.array_equal(before[~region], after[~region])  # outside the region: every pixel kept
    assert (before[region] != after[region]).any()
