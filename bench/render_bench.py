"""Benchmark of the render queue: a 24-panel, 3-character story rendered with the draft
engine at 768x768 through enqueue + worker (encoding cache, asset store, database rows);
prints the median and 90th-percentile milliseconds per panel (aim: under 100) and the number
of encode_subject calls (must be 3)."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from story import panels, projects, queue  # noqa: E402
from story.studio import Studio  # noqa: E402
from story.worker import Worker  # noqa: E402
from tests.draft_helpers import BLUE, RED, YELLOW  # noqa: E402
from tests.queue_helpers import CountingGenerator, add_pictured_character  # noqa: E402

NAMES = ("Ann", "Bo", "Cy")


def build_story(studio: Studio, size: int, routing_maps: bool) -> int:
    """24 panels, each with two or three of the three characters."""
    project = projects.create_project(studio, "Bench", render_defaults={
        "width": size, "height": size, "routing_maps": routing_maps})
    for name, colour in zip(NAMES, (RED, BLUE, YELLOW)):
        add_pictured_character(studio, project.id, name, colour)
    for i in range(24):
        cast = NAMES if i % 2 else (NAMES[i % 3], NAMES[(i + 1) % 3])
        panels.add_panel(studio, project.id, seed=i, characters=list(cast),
                         prompt=f"Scene {i + 1}: the friends cross the meadow at sunset, arguing about the map")
    return project.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--routing-maps", action="store_true", help="also keep routing maps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        studio = Studio.open(folder)
        project_id = build_story(studio, args.size, args.routing_maps)
        generator = CountingGenerator()
        worker = Worker(studio, generator)
        finished: dict[int, float] = {}
        jobs = queue.render_all(studio, project_id, engine=generator.name).jobs
        started = time.perf_counter()
        for _ in jobs:
            begin = time.perf_counter()
            done = worker.run_one()
            finished[done.id] = (time.perf_counter() - begin) * 1e3
        wall = time.perf_counter() - started
        times = sorted(finished.values())
        stages = {k: statistics.median(j.timings[k] for j in queue.jobs(studio, list(finished)))
                  for k in ("encode_ms", "render_ms", "store_ms")}
        studio.close()
    print(f"render queue, draft {args.size}x{args.size}, 24 panels, 3 characters, routing maps "
          f"{'on' if args.routing_maps else 'off'}: median {statistics.median(times):.1f} ms/panel, "
          f"p90 {times[int(0.9 * len(times))]:.1f} ms, total {wall:.2f} s")
    print("median stages: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    print(f"encode_subject calls: {generator.encode_calls}")


if __name__ == "__main__":
    main()
