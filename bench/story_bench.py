#!/usr/bin/env python3
"""Story store benchmark: build a project of 500 panels and 20 characters (each panel with
1-3 characters and a balloon) through the services, then time opening the project and
listing its panels with their characters. Prints the medians; the aim for listing is
under 50 ms.

    python bench/story_bench.py [--panels 500] [--characters 20] [--runs 9] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from story import characters, panels, projects  # noqa: E402
from story.studio import Studio  # noqa: E402


def build(studio: Studio, n_panels: int, n_characters: int) -> int:
    rng = random.Random(0)
    project = projects.create_project(studio, "Bench story", style="Comic book")
    names = [f"Character {i}" for i in range(n_characters)]
    for i, name in enumerate(names):
        characters.add_character(studio, project.id, name, alias=f"ROLE-{i}", description=f"person number {i}")
    for i in range(n_panels):
        cast = rng.sample(names, rng.randint(1, 3))
        panels.add_panel(
            studio, project.id, prompt=f"shot {i}: " + " and ".join(cast), caption=f"Caption {i}.",
            characters=[(name, (0.1, 0.1, 0.6, 0.9)) if k == 0 else name for k, name in enumerate(cast)],
            balloons=[(cast[0], "speech", f"Line {i}")],
        )
    return project.id


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm the statement caches once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=500)
    parser.add_argument("--characters", type=int, default=20)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--data-dir", help="default: a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio.open(args.data_dir or tmp)
        start = time.perf_counter()
        project_id = build(studio, args.panels, args.characters)
        print(f"built {args.panels} panels, {args.characters} characters in {time.perf_counter() - start:.1f} s")
        opened = median_ms(lambda: projects.get_project(studio, project_id), args.runs)
        listed = median_ms(lambda: panels.list_panels(studio, project_id), args.runs)
        assert len(panels.list_panels(studio, project_id)) == args.panels
        print(f"open project (get_project):  median {opened:7.1f} ms over {args.runs} runs")
        print(f"list panels  (list_panels):  median {listed:7.1f} ms over {args.runs} runs  (aim < 50 ms)")
        studio.close()


if __name__ == "__main__":
    main()
