"""A separate process writing through the story services, for the crash and concurrency
tests: `crash DATA PROJECT` adds panels forever, printing each committed panel's id;
`edit DATA PROJECT SHARED COUNT TAG` adds COUNT panels and increments a counter in the
shared panel's overrides COUNT times, reloading and retrying on Conflict."""
from __future__ import annotations

import sys

from story import panels
from story.errors import Conflict
from story.studio import Studio


def crash(studio: Studio, project: int) -> None:
    while True:
        panel = panels.add_panel(studio, project, prompt="ROLE-A runs", balloons=[(None, "speech", "go!")])
        print(panel.id, flush=True)


def increment(studio: Studio, panel_id: int, tag: str) -> int:
    """Add one to the shared counters; returns how many stale edits were retried."""
    retries = 0
    while True:
        current = panels.get_panel(studio, panel_id)
        counts = dict(current.overrides)
        counts["total"] = counts.get("total", 0) + 1
        counts[tag] = counts.get(tag, 0) + 1
        try:
            panels.update_panel(studio, panel_id, expected_version=current.version, overrides=counts)
            return retries
        except Conflict:
            retries += 1


def edit(studio: Studio, project: int, shared: int, count: int, tag: str) -> None:
    print("ready", flush=True)
    sys.stdin.readline()  # wait until the other worker is ready too
    retries = 0
    for i in range(count):
        panels.add_panel(studio, project, prompt=f"{tag} {i}")
        retries += increment(studio, shared, tag)
    print(f"retries {retries}", flush=True)


if __name__ == "__main__":
    mode, data_dir, project, *rest = sys.argv[1:]
    opened = Studio.open(data_dir)
    if mode == "crash":
        crash(opened, int(project))
    else:
        edit(opened, int(project), int(rest[0]), int(rest[1]), rest[2])
