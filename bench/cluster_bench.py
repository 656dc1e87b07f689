"""Benchmark of the render farm: 48 draft panels (3 characters, 768x768 by default) through
the in-process worker, then through a local Ray runtime with 1 and with 2 CPU render actors
(story/dispatcher.py). Prints panels per second, the speed-up of 2 actors over 1 (aim on 2
cores: >= 1.7x) and the overhead Ray adds per job over the in-process worker (1 actor against
the worker; aim: <= 30 ms; it can be negative: the actor encodes the PNG while the dispatcher
commits the previous job). Each runner renders the story once untimed first (warm caches);
the Ray runtime's start and the actors' start are not timed.

    python bench/cluster_bench.py [--panels 48] [--size 768]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.draft import DraftGenerator  # noqa: E402
from story import panels, projects, queue  # noqa: E402
from story.cluster import ClusterConfig, connect, disconnect  # noqa: E402
from story.dispatcher import Dispatcher  # noqa: E402
from story.studio import Studio  # noqa: E402
from story.worker import Worker  # noqa: E402
from tests.draft_helpers import BLUE, RED, YELLOW  # noqa: E402
from tests.queue_helpers import add_pictured_character  # noqa: E402

NAMES = ("Ann", "Bo", "Cy")


def build_story(studio: Studio, count: int, size: int) -> int:
    """`count` panels, each with two or three of the three characters."""
    project = projects.create_project(studio, "Bench", render_defaults={"width": size, "height": size})
    for name, colour in zip(NAMES, (RED, BLUE, YELLOW)):
        add_pictured_character(studio, project.id, name, colour)
    for i in range(count):
        cast = NAMES if i % 2 else (NAMES[i % 3], NAMES[(i + 1) % 3])
        panels.add_panel(studio, project.id, seed=i, characters=list(cast),
                         prompt=f"Scene {i + 1}: the friends cross the meadow at sunset")
    return project.id


def timed_run(runner, studio: Studio, project_id: int) -> float:
    """Seconds to render every panel of the story with `runner` (checks they all finished)."""
    jobs = queue.render_all(studio, project_id, engine="draft").jobs
    started = time.perf_counter()
    runner.run_pending([job.id for job in jobs])
    seconds = time.perf_counter() - started
    failed = [job.id for job in queue.jobs(studio, [job.id for job in jobs]) if job.status != "done"]
    assert not failed, f"renders {failed} did not finish"
    return seconds


def run(workers: int, count: int, size: int) -> float:
    """Seconds for `count` panels on a fresh data dir: workers=0 is the in-process worker."""
    with tempfile.TemporaryDirectory() as folder:
        studio = Studio.open(Path(folder) / "data")
        project_id = build_story(studio, count, size)
        if workers == 0:
            worker = Worker(studio, DraftGenerator())
            timed_run(worker, studio, project_id)  # warm-up, as for the actors
            return timed_run(worker, studio, project_id)
        with Dispatcher(studio, ClusterConfig("local", workers), lambda gpu: DraftGenerator) as dispatcher:
            timed_run(dispatcher, studio, project_id)  # warm-up: every actor has encoded and rendered
            return timed_run(dispatcher, studio, project_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--panels", type=int, default=48)
    parser.add_argument("--size", type=int, default=768)
    args = parser.parse_args()
    started_here = connect(ClusterConfig("local", 2))
    try:
        seconds = {workers: run(workers, args.panels, args.size) for workers in (0, 1, 2)}
    finally:
        disconnect(started_here)
    n = args.panels
    print(f"{n} draft panels at {args.size}x{args.size} (second pass, warm; Ray start not timed):")
    for workers, label in ((0, "in-process worker"), (1, "Ray, 1 actor"), (2, "Ray, 2 actors")):
        print(f"  {label:<18} {seconds[workers]:6.2f} s  {n / seconds[workers]:6.1f} panels/s")
    print(f"  speed-up 2 actors over 1: {seconds[1] / seconds[2]:.2f}x (aim >= 1.7x on 2 cores)")
    print(f"  overhead per job, 1 actor over the worker: {(seconds[1] - seconds[0]) / n * 1e3:.1f} ms (aim <= 30 ms)")


if __name__ == "__main__":
    main()
