"""Registering characters from pictures: services and the add-character CLI, end to end."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from story import characters, panels, projects
from story.errors import InvalidInput
from tests.conftest import REPO


def figure(size=(200, 160)) -> tuple[Image.Image, np.ndarray]:
    """A red disc on a white background and its true mask."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).ellipse((60, 40, 140, 120), fill=(200, 30, 30))
    return image, np.asarray(image)[..., 1] < 128


def test_picture_is_stored_with_mask_and_prepared_subject(studio):
    p = projects.create_project(studio, "P")
    image, mask = figure()
    mia = characters.add_character(studio, p.id, "Mia", image=image, mask=mask, segmenter="test")
    assert mia.version == 1 and mia.has_picture and mia.warning is None
    subject = studio.assets.open(mia.subject_hash)
    assert subject.width == subject.height
    assert subject.getpixel((0, 0)) == (255, 255, 255)
    assert studio.assets.open(mia.image_hash).tobytes() == image.tobytes()
    assert (np.asarray(studio.assets.open(mia.mask_hash)) > 0).sum() == mask.sum()


def test_new_picture_bumps_version_rename_does_not(studio):
    p = projects.create_project(studio, "P")
    image, mask = figure()
    mia = characters.add_character(studio, p.id, "Mia", image=image, mask=mask)
    renamed = characters.update_character(studio, p.id, "Mia", name="Mia Rose")
    assert renamed.version == mia.version
    flipped = characters.set_character_picture(studio, p.id, "Mia Rose", image.transpose(Image.FLIP_LEFT_RIGHT), mask[:, ::-1])
    assert flipped.version == mia.version + 1 and flipped.picture_count == 1
    assert flipped.subject_hash != mia.subject_hash


def test_empty_or_misfit_mask_saves_nothing(studio):
    p = projects.create_project(studio, "P")
    image, mask = figure()
    with pytest.raises(InvalidInput, match="empty"):
        characters.add_character(studio, p.id, "Mia", image=image, mask=np.zeros_like(mask))
    with pytest.raises(InvalidInput, match="mask is"):
        characters.add_character(studio, p.id, "Mia", image=image, mask=mask[:100])
    assert projects.get_project(studio, p.id).characters == []
    assert studio.assets.all_hashes() == set()


def test_mask_covering_everything_is_accepted_with_a_warning(studio):
    p = projects.create_project(studio, "P")
    image, mask = figure()
    mia = characters.add_character(studio, p.id, "Mia", image=image, mask=np.ones_like(mask))
    assert mia.has_picture and "covers" in mia.warning


def test_deleted_character_leaves_its_panels(studio):
    p = projects.create_project(studio, "P")
    image, mask = figure()
    characters.add_character(studio, p.id, "Mia", image=image, mask=mask)
    panel = panels.add_panel(studio, p.id, prompt="Mia waves", characters=["Mia"])
    characters.delete_character(studio, p.id, "Mia", confirm=True)
    assert panels.get_panel(studio, panel.id).characters == []


def run_cli(*args, data_dir):
    return subprocess.run(
        [sys.executable, "launch.py", "--data-dir", str(data_dir), *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )


def test_cli_add_character_with_click_and_with_mask(tmp_path):
    image, mask = figure()
    image.save(tmp_path / "mia.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    data = tmp_path / "data"
    assert run_cli("new-project", "Tale", data_dir=data).returncode == 0
    clicked = run_cli("add-character", "Tale", "--name", "Mia", "--alias", "ROLE-A", "--image",
                      str(tmp_path / "mia.png"), "--point", "100,80", "--json", data_dir=data)
    assert clicked.returncode == 0, clicked.stderr
    view = json.loads(clicked.stdout)
    assert view["version"] == 1 and view["segmenter"].startswith("fallback")
    masked = run_cli("add-character", "Tale", "--name", "Fox", "--image", str(tmp_path / "mia.png"),
                     "--mask", str(tmp_path / "mask.png"), "--json", data_dir=data)
    assert masked.returncode == 0, masked.stderr
    again = run_cli("set-character-image", "Tale", "ROLE-A", "--image", str(tmp_path / "mia.png"),
                    "--box", "50,30,150,130", "--json", data_dir=data)
    assert again.returncode == 0 and json.loads(again.stdout)["version"] == 2


def test_cli_refuses_points_outside_and_bad_files_with_one_line(tmp_path):
    image, _ = figure()
    image.save(tmp_path / "mia.png")
    (tmp_path / "junk.png").write_bytes(b"not a picture")
    data = tmp_path / "data"
    run_cli("new-project", "Tale", data_dir=data)
    outside = run_cli("add-character", "Tale", "--name", "Mia", "--image", str(tmp_path / "mia.png"),
                      "--point", "500,80", data_dir=data)
    junk = run_cli("add-character", "Tale", "--name", "Mia", "--image", str(tmp_path / "junk.png"),
                   "--point", "5,5", data_dir=data)
    for result in (outside, junk):
        assert result.returncode == 2
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    listed = run_cli("characters", "Tale", "--json", data_dir=data)
    assert json.loads(listed.stdout) == []
