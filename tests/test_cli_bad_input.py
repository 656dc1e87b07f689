"""Odd input on the command line gets one line on stderr and exit status 2, never a
traceback, and changes nothing: numbers beyond SQLite's integers, a panel seed with no room
for variants, arguments that are not UTF-8, bad --auth values."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from commands import main
from story import panels, projects, queue
from story.studio import Studio

REPO = Path(__file__).resolve().parents[1]
HUGE = str(2**64)


@pytest.fixture
def data(tmp_path) -> Path:
    studio = Studio.open(tmp_path / "data")
    project = projects.create_project(studio, "Fox")
    panels.add_panel(studio, project.id, prompt="a fox at dawn", seed=2**63 - 1)
    studio.close()
    return tmp_path / "data"


def _refused(capsys, data: Path, *args: str, match: str) -> None:
    assert main(["--data-dir", str(data), *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: "), err
    assert match in err, err


@pytest.mark.parametrize("args, match", [
    (("retry", HUGE), "is not a whole number"),
    (("cancel", "²"), "is not a whole number"),
    (("render", "Fox", "--panel", HUGE), "is not a whole number"),
    (("renders", "Fox", "--panel", "-1"), "is not a whole number"),
    (("select-render", "Fox", "--panel", "1", HUGE), "is not a whole number"),
    (("add-panel", "Fox", "--prompt", "x", "--seed", HUGE), "is not a whole number"),
    (("render", "Fox", "--panel", "1", "--seed", "²"), "--seed wants a whole number"),
    (("render", "Fox", "--panel", "1", "--seed", HUGE), "--seed wants a whole number"),
    (("show", HUGE), "No project named"),
    (("render", "Fox", "--panel", "1", "--variants", "2", "--no-wait"), "no room for 2 consecutive variant seeds"),
    (("new-project", "Fox\udcff"), "is not valid UTF-8"),
    (("--auth", "nocolon"), "user:password"),
    (("--share", "--auth", str(REPO / "assets")), "user:password"),
])
def test_bad_input_is_one_line_and_changes_nothing(capsys, data, args, match):
    _refused(capsys, data, *args, match=match)
    studio = Studio.open(data)
    try:
        assert [p.name for p in projects.list_projects(studio)] == ["Fox"]
        assert len(panels.list_panels(studio, "Fox")) == 1
        assert queue.jobs(studio) == []
    finally:
        studio.close()


def test_arguments_that_are_not_utf8_bytes_are_refused(data):
    env = {k: v for k, v in os.environ.items() if k != "ANYSTORY_DATA_DIR"}
    done = subprocess.run([sys.executable, "launch.py", "--data-dir", str(data), "new-project", b"Fox\xff"],
                          cwd=REPO, env=env, capture_output=True, timeout=120)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert done.stderr.startswith(b"error: argument 4 (Fox\\xff) is not valid UTF-8"), done.stderr
