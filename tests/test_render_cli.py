"""The render subcommands of launch.py, run in-process on a real data directory."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from commands import main
from story import panels, projects
from tests.draft_helpers import BLUE, RED
from tests.queue_helpers import add_pictured_character


@pytest.fixture
def cli(studio, capsys):
    """Run `launch.py ... --json` against the studio's data dir; return (exit code, JSON)."""
    def run(*argv: str):
        code = main([*argv, "--data-dir", str(studio.root), "--json"])
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    project = projects.create_project(studio, "Fox Tales", render_defaults={"width": 200, "height": 150})
    add_pictured_character(studio, project.id, "Mia", RED)
    add_pictured_character(studio, project.id, "Fox", BLUE)
    return run


def test_add_panel_with_boxes_and_dialogue(cli, studio):
    code, panel = cli("add-panel", "Fox Tales", "--prompt", "Mia feeds Fox", "--characters", "Mia, Fox",
                      "--caption", "Dawn", "--box", "fox=0.5,0.2,1,1", "--say", "Mia:shout:Breakfast!",
                      "--say", "Fox:yum", "--seed", "7")
    assert code == 0
    assert [(c["name"], c["box"]) for c in panel["characters"]] == [("Mia", None), ("Fox", [0.5, 0.2, 1.0, 1.0])]
    assert [(b["speaker"], b["kind"], b["text"]) for b in panel["balloons"]] == [
        ("Mia", "shout", "Breakfast!"), ("Fox", "speech", "yum")]
    assert (panel["caption"], panel["seed"]) == ("Dawn", 7)
    assert cli("add-panel", "Fox Tales", "--prompt", "x", "--box", "Owl=0,0,1,1")[0] == 2


def test_render_history_select_cancel_retry(cli, studio):
    for prompt in ("Mia wakes up", "Fox waits"):
        cli("add-panel", "Fox Tales", "--prompt", prompt, "--characters", prompt.split()[0])
    code, out = cli("render", "Fox Tales", "--engine", "draft")
    assert code == 0 and [r["status"] for r in out["renders"]] == ["done", "done"]
    image = studio.assets.open(out["renders"][0]["image_hash"])
    assert image.size == (200, 150) and isinstance(image, Image.Image)

    code, out = cli("render", "Fox Tales", "--panel", "1", "--variants", "2", "--seed", "90")
    assert [r["seed"] for r in out["renders"]] == [90, 91]
    code, history = cli("renders", "Fox Tales", "--panel", "1")
    ids = [r["id"] for r in history["renders"]]
    assert len(ids) == 3 and history["selected_render_id"] == ids[0]
    assert cli("select-render", "Fox Tales", "--panel", "1", str(ids[2]))[0] == 0
    assert panels.get_panel(studio, panels.panel_id_at(studio, "Fox Tales", 1)).selected_render_id == ids[2]

    code, out = cli("render", "Fox Tales", "--panel", "2", "--no-wait")
    queued = out["renders"][0]
    assert queued["status"] == "queued"
    assert cli("cancel", str(queued["id"]))[1]["status"] == "cancelled"
    code, out = cli("retry", str(queued["id"]))
    assert code == 0 and out["renders"][0]["status"] == "done"
    assert out["renders"][0]["seed"] == queued["seed"]
    assert cli("render", "Fox Tales", "--seed", "soon")[0] == 2


def test_the_progress_bar_counts_only_this_commands_jobs(studio, capsys):
    import re

    from story import queue

    for name in ("Other story", "Fox Tales"):
        project = projects.create_project(studio, name, render_defaults={"width": 200, "height": 150})
        add_pictured_character(studio, project.id, "Mia", RED)
        panel = panels.add_panel(studio, project.id, prompt="Mia waits", characters=["Mia"])
    queue.enqueue(studio, panels.list_panels(studio, "Other story")[0].id, engine="draft")  # older: runs first
    assert main(["render", "Fox Tales", "--engine", "draft", "--data-dir", str(studio.root)]) == 0
    counts = [(float(n), int(total)) for n, total in re.findall(r"(\d+\.\d)/(\d+)", capsys.readouterr().err)]
    assert counts and all(n <= total == 1 for n, total in counts), counts
    assert panels.get_panel(studio, panel.id).selected_render_id is not None


def test_add_panel_puts_the_characters_its_prompt_names_in_it_and_reports_unknown_names(studio, capsys, cli):
    code = main(["add-panel", "Fox Tales", "--prompt", "MIA stands on the pier while Fox watches ROLE-Z",
                 "--data-dir", str(studio.root)])
    said = capsys.readouterr().out
    assert code == 0
    assert [c.name for c in panels.list_panels(studio, "Fox Tales")[0].characters] == ["Mia", "Fox"]
    assert "Mia joins panel 1" in said and "Fox joins panel 1" in said
    assert "“ROLE-Z” in the scene of panel 1 names no character" in said


def test_add_panel_refuses_an_unknown_balloon_kind(cli, capsys, studio):
    code = main(["add-panel", "Fox Tales", "--prompt", "x", "--say", "Mia:yell:hi", "--data-dir", str(studio.root)])
    assert code == 2 and "unknown balloon kind 'yell'" in capsys.readouterr().err
    assert panels.list_panels(studio, "Fox Tales") == []
    code, panel = cli("add-panel", "Fox Tales", "--prompt", "x", "--say", "Mia:Look: the sky")
    assert code == 0 and panel["balloons"][0]["text"] == "Look: the sky"


def test_an_existing_export_names_the_flag_that_replaces_it(cli, studio, capsys, tmp_path):
    out = tmp_path / "fox.cbz"
    cli("add-panel", "Fox Tales", "--prompt", "Mia waits")
    argv = ["export", "Fox Tales", "--format", "cbz", "--out", str(out), "--data-dir", str(studio.root)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "add --force to replace it" in error and "force=True" not in error
