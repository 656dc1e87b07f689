"""The sample story shipped under assets/sample/: three characters with pictures and masks
and five panels, built through the ordinary services so it is a project like any other."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from story import characters, panels, projects
from story.assets import read_image_file
from story.errors import NotFound
from story.studio import Studio
from story.views import ProjectView

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "assets" / "sample"


def sample_script(folder: Path = SAMPLE_DIR) -> dict[str, Any]:
    return json.loads((folder / "story.json").read_text(encoding="utf-8"))


def load_sample(studio: Studio, folder: Path = SAMPLE_DIR) -> ProjectView:
    """Open the sample story, creating it on first use (a project of that name is reused,
    so the button never piles up copies)."""
    script = sample_script(folder)
    try:
        return projects.get_project(studio, script["title"])
    except NotFound:
        pass
    project = projects.create_project(studio, script["title"], author=script["author"], style=script["style"])
    try:
        for cast in script["characters"]:
            characters.add_character(
                studio, project.id, cast["name"], alias=cast["alias"], description=cast["description"],
                image=read_image_file(folder / cast["picture"]),
                mask=read_image_file(folder / cast["mask"], label="mask"), segmenter="sample mask",
            )
        for panel in script["panels"]:
            panels.add_panel(
                studio, project.id, prompt=panel["prompt"], caption=panel["caption"],
                characters=[(name, tuple(box) if box else None) for name, box in panel["characters"]],
                balloons=[tuple(b) for b in panel["balloons"]], seed=panel["seed"],
            )
    except BaseException:
        projects.delete_project(studio, project.id)
        raise
    return projects.get_project(studio, project.id)
