"""Durability and concurrency on a real SQLite file with real processes: a writer killed
with SIGKILL loses nothing it reported committed, and two writers on one project never
see "database is locked" nor lose an update."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from story import panels, projects

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "story_worker.py"


def _worker(*args: object) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], cwd=REPO, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_writer_killed_mid_loop_loses_nothing_it_reported(studio):
    project = projects.create_project(studio, "Crash")
    worker = _worker("crash", studio.root, project.id)
    reported = []
    try:
        while len(reported) < 60:
            line = worker.stdout.readline()
            assert line, worker.stderr.read()
            reported.append(int(line))
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
    with sqlite3.connect(studio.root / "studio.db") as raw:
        assert raw.execute("pragma integrity_check").fetchone() == ("ok",)
        present = {row[0] for row in raw.execute("select id from panels")}
        assert raw.execute("select count(*) from balloons").fetchone()[0] == len(present)
    assert set(reported) <= present
    listed = panels.list_panels(studio, project.id)
    assert [p.position for p in listed] == list(range(len(listed)))


def test_two_processes_editing_one_project_lose_no_update(studio):
    project = projects.create_project(studio, "Busy")
    shared = panels.add_panel(studio, project.id, prompt="the shared panel", overrides={})
    count = 25
    workers = [_worker("edit", studio.root, project.id, shared.id, count, tag) for tag in ("a", "b")]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = [worker.communicate(timeout=120) for worker in workers]
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
        assert out.startswith("retries ")
    final = panels.get_panel(studio, shared.id)
    assert final.overrides == {"total": 2 * count, "a": count, "b": count}
    assert final.version == shared.version + 2 * count
    assert len(panels.list_panels(studio, project.id)) == 1 + 2 * count


def test_moving_panels_while_another_process_adds_panels_is_never_refused(studio):
    project = projects.create_project(studio, "Moving")
    first = panels.add_panel(studio, project.id, prompt="the moving panel")
    shared = panels.add_panel(studio, project.id, prompt="the shared panel", overrides={})
    adder = _worker("edit", studio.root, project.id, shared.id, 30, "a")
    assert adder.stdout.readline().strip() == "ready", adder.stderr.read()
    adder.stdin.write("go\n")
    adder.stdin.flush()
    moves = 0
    while adder.poll() is None or moves < 10:
        listed = panels.move_panel(studio, first.id, moves % 3)
        assert first.id in [p.id for p in listed]
        moves += 1
    out, err = adder.communicate(timeout=120)
    assert adder.returncode == 0, err
    listed = panels.list_panels(studio, project.id)
    assert len(listed) == 32 and [p.position for p in listed] == list(range(32))
