"""The quality tools through the command line and the render queue on the draft engine:
likeness in `renders --json`, best of K, region redo, and both in a bundle round trip."""
from __future__ import annotations

import json
import zipfile

import numpy as np
from PIL import Image

from commands import main
from story import bundle, panels, renders
from tests.test_render_cli import cli  # noqa: F401  (fixture: "Fox Tales" with Mia and Fox, 200x150)


def history(cli) -> dict:
    return cli("renders", "Fox Tales", "--panel", "1")[1]


def refused(studio, capsys, *argv: str) -> str:
    """Run a command that must fail as a user mistake; return its one-line message."""
    capsys.readouterr()
    assert main([*argv, "--data-dir", str(studio.root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_best_of_k_selects_the_variant_whose_least_like_character_is_most_alike(cli, studio):
    cli("add-panel", "Fox Tales", "--prompt", "Mia and Fox", "--characters", "Mia,Fox")
    code, out = cli("render", "Fox Tales", "--panel", "1", "--variants", "4", "--keep-best", "--seed", "5")
    assert code == 0 and [r["status"] for r in out["renders"]] == ["done"] * 4
    listed = history(cli)
    assert len(listed["renders"]) == 4  # the others stay in the history
    lowest = {}
    for render in listed["renders"]:
        report = render["likeness"]
        assert report["method"] == "thumbnail"
        assert [s["name"] for s in report["subjects"]] == ["Mia", "Fox"]
        assert all(0.0 <= s["score"] <= 1.0 for s in report["subjects"])
        lowest[render["id"]] = min(s["score"] for s in report["subjects"])
    assert len(set(lowest.values())) > 1  # the variants really differ
    best = max(lowest, key=lowest.get)
    assert out["best_render_id"] == best == listed["selected_render_id"]


def test_keep_best_needs_variants_and_waiting(cli, studio, capsys):
    cli("add-panel", "Fox Tales", "--prompt", "Mia", "--characters", "Mia")
    assert "--keep-best needs --variants K" in refused(studio, capsys, "render", "Fox Tales", "--panel", "1",
                                                       "--keep-best")
    refused(studio, capsys, "render", "Fox Tales", "--panel", "1", "--variants", "2", "--keep-best", "--no-wait")
    assert history(cli)["renders"] == []


def write_mask(path, size, box) -> str:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    mask.save(path)
    return str(path)


def test_region_redo_changes_only_the_painted_region(cli, studio, tmp_path, capsys):
    cli("add-panel", "Fox Tales", "--prompt", "Mia and Fox at the sea", "--characters", "Mia,Fox")
    first = cli("render", "Fox Tales", "--panel", "1")[1]["renders"][0]
    mask = write_mask(tmp_path / "mask.png", (200, 150), (20, 30, 120, 110))
    code, out = cli("render", "Fox Tales", "--panel", "1", "--region", mask)
    redo = out["renders"][0]
    assert code == 0 and redo["status"] == "done", redo["error"]
    assert (redo["parent_render_id"], redo["seed"] != first["seed"]) == (first["id"], True)
    before = np.asarray(studio.assets.open(first["image_hash"]).convert("RGB"))
    after = np.asarray(studio.assets.open(redo["image_hash"]).convert("RGB"))
    inside = np.asarray(studio.assets.open(redo["region_hash"])) > 127
    assert inside.sum() == 100 * 80
    assert np.array_equal(before[~inside], after[~inside])
    assert (before[inside] != after[inside]).any()
    assert history(cli)["selected_render_id"] == redo["id"]
    assert len(redo["likeness"]["subjects"]) == 2
    code = main(["renders", "Fox Tales", "--panel", "1", "--data-dir", str(studio.root)])
    assert code == 0 and f"region redo of render {first['id']}" in capsys.readouterr().out


def test_a_bad_region_is_refused_with_one_line_and_nothing_queued(cli, studio, tmp_path, capsys):
    cli("add-panel", "Fox Tales", "--prompt", "Mia", "--characters", "Mia")
    cli("render", "Fox Tales", "--panel", "1")
    cases = {
        write_mask(tmp_path / "empty.png", (200, 150), (0, 0, 0, 0)): "The region is empty",
        write_mask(tmp_path / "square.png", (100, 100), (0, 0, 50, 50)): "paint the region on the render itself",
        str(tmp_path / "missing.png"): "Cannot read region mask",
    }
    for path, message in cases.items():
        assert message in refused(studio, capsys, "render", "Fox Tales", "--panel", "1", "--region", path)
    refused(studio, capsys, "render", "Fox Tales", "--panel", "1", "--region", path, "--variants", "2")
    assert len(history(cli)["renders"]) == 1


def test_likeness_and_redo_survive_a_bundle_round_trip(cli, studio, tmp_path):
    cli("add-panel", "Fox Tales", "--prompt", "Mia and Fox", "--characters", "Mia,Fox")
    cli("render", "Fox Tales", "--panel", "1")
    cli("render", "Fox Tales", "--panel", "1", "--region", write_mask(tmp_path / "m.png", (200, 150), (0, 0, 90, 150)))
    original = history(cli)["renders"]
    path = bundle.export_bundle(studio, "Fox Tales", tmp_path / "fox.zip")
    copy = bundle.import_bundle(studio, path)
    imported = renders.list_renders(studio, copy.panels[0].id)
    assert [r.likeness for r in imported] == [r["likeness"] for r in original]
    assert imported[1].parent_render_id == imported[0].id != original[0]["id"]
    assert imported[1].region_hash == original[1]["region_hash"]
    assert studio.assets.path(imported[1].region_hash).is_file()


def test_a_bundle_made_before_the_quality_tools_still_imports(cli, studio, tmp_path):
    cli("add-panel", "Fox Tales", "--prompt", "Mia", "--characters", "Mia")
    cli("render", "Fox Tales", "--panel", "1")
    path = bundle.export_bundle(studio, "Fox Tales", tmp_path / "new.zip")
    old = tmp_path / "old.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "project.json":
                document = json.loads(data)
                for render in document["panels"][0]["renders"]:
                    for key in ("likeness", "parent_render", "region_hash", "latents_hash"):
                        del render[key]
                data = json.dumps(document).encode()
            target.writestr(item, data)
    copy = bundle.import_bundle(studio, old)
    (render,) = renders.list_renders(studio, copy.panels[0].id)
    assert (render.likeness, render.parent_render_id, render.region_hash) == ({}, None, None)
    assert panels.get_panel(studio, copy.panels[0].id).selected_render_id == render.id
