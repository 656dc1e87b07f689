"""Crash safety of the render queue: a worker killed mid-render, and what recovery leaves alone."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from story import panels, projects, queue
from story.models import Render, utcnow
from story.render_jobs import HOST, STALE_AFTER_S, recover_interrupted
from story.studio import Studio
from story.worker import Worker
from tests.draft_helpers import BLUE, RED
from tests.queue_helpers import SlowGenerator, add_pictured_character

REPO = Path(__file__).resolve().parents[1]


def one_panel(studio: Studio) -> int:
    project = projects.create_project(studio, "Crash", render_defaults={"width": 160, "height": 120})
    add_pictured_character(studio, project.id, "Mia", RED)
    add_pictured_character(studio, project.id, "Fox", BLUE)
    return panels.add_panel(studio, project.id, prompt="a long night", characters=["Mia", "Fox"]).id


def wait_for(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_worker_killed_mid_render_leaves_an_interrupted_job_that_retries(studio, tmp_path):
    panel_id = one_panel(studio)
    job, = queue.enqueue(studio, panel_id, engine=SlowGenerator.name)
    worker = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "queue_helpers.py"), str(tmp_path / "data"), "slow", "2"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        wait_for(lambda: queue.jobs(studio, [job.id])[0].progress > 0)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    stuck = queue.jobs(studio, [job.id])[0]
    assert (stuck.status, stuck.worker) == ("running", f"{HOST}:{worker.pid}")
    studio.close()

    restarted = Studio.open(tmp_path / "data")
    generator = SlowGenerator(delay_s=0.0)
    assert recover_interrupted(restarted) == [job.id]  # what a new Worker does first
    failed = queue.jobs(restarted, [job.id])[0]
    assert (failed.status, failed.error) == ("failed", "interrupted")
    again = queue.retry(restarted, job.id)
    Worker(restarted, generator).run_pending([again.id])
    done = queue.jobs(restarted, [again.id])[0]
    assert (done.status, done.seed, done.params["prompt"]) == ("done", failed.seed, "a long night")
    assert panels.get_panel(restarted, panel_id).selected_render_id == again.id
    restarted.close()


def mark_running(studio: Studio, render_id: int, host: str, pid: int, beat_age_s: float) -> None:
    with studio.db.write() as session:
        session.execute(update(Render).where(Render.id == render_id).values(
            status="running", worker_host=host, worker_pid=pid,
            started_at=utcnow(), heartbeat_at=utcnow() - timedelta(seconds=beat_age_s),
        ))


def test_recovery_leaves_jobs_of_live_workers_alone(studio):
    panel_id = one_panel(studio)
    live, remote_live, remote_dead = queue.enqueue(studio, panel_id, engine="draft", variants=3)
    # a live pid with a long-stale heartbeat is a reused pid: a live worker beats every few seconds
    mark_running(studio, live.id, HOST, os.getpid(), STALE_AFTER_S * 3)
    mark_running(studio, remote_live.id, "another-host", 1, 1.0)
    mark_running(studio, remote_dead.id, "another-host", 1, STALE_AFTER_S + 5)
    assert recover_interrupted(studio) == [live.id, remote_dead.id]
    mark_running(studio, live.id, HOST, os.getpid(), 1.0)
    assert recover_interrupted(studio) == []
    assert [j.status for j in queue.jobs(studio, [live.id, remote_live.id])] == ["running", "running"]
