"""The Characters tab in a real browser (Debian's chromium, launch.py with the no-weights
segmenter): a white character inside its outline is cut out whole at upload and shown on a
light and a dark ground, the brush adds a part, the saved mask has it, and a file that is
no picture gets the CLI's message. Screenshots go to test-artifacts/."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from story import characters
from story.studio import Studio
from tests.browser_helpers import CHROMIUM, chromium, fill, open_page, served_app, shot, wait_toast
from tests.segment_helpers import compose, ellipse_mask, plain

pytestmark = [  # in CI (CI=true) a missing chromium fails: .ci/run installs it
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (apt-get install chromium)"),
]
H, W = 400, 300
BODY = ellipse_mask(H, W, 150, 240, 100, 120)


def _white_sheep(path: Path) -> Path:
    """A body of exactly the background's white inside a black outline, on white."""
    from scipy import ndimage

    outline = ndimage.binary_dilation(BODY, iterations=4) & ~BODY
    compose(plain(H, W, (255, 255, 255)), [(outline, (15, 15, 15))]).save(path)
    return path


def test_cut_out_brush_and_a_bad_upload(tmp_path):
    data = tmp_path / "data"
    with served_app(data) as url, chromium() as browser:
        page = open_page(browser, url)
        fill(page, "new-project-name", "Flock")
        page.click("#create-project")
        page.locator("#story-header", has_text="Flock").wait_for()
        page.get_by_role("tab", name="Characters").click()
        page.locator("#segmenter-note", has_text="Built-in cut-out").wait_for()
        page.locator("#character-picture input[type=file]").set_input_files(
            str(_white_sheep(tmp_path / "sheep.png")))
        page.locator("#character-cutout img").wait_for(state="visible")
        shot(page, "characters-01-cut-out-light-and-dark")

        page.get_by_text("Touch up with the brush").click()
        canvas = page.locator("#mask-brush canvas").first
        canvas.wait_for(state="visible")
        page.locator("#mask-brush button[aria-label='Brush']").first.click()
        box = canvas.bounding_box()
        y = box["y"] + box["height"] * 0.13  # above the body, on the white background
        page.mouse.move(box["x"] + box["width"] * 0.4, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=12)
        page.mouse.up()
        shot(page, "characters-02-brush-stroke")
        before = page.locator("#character-cutout img").get_attribute("src")
        page.click("#apply-brush")
        page.wait_for_function(
            "before => document.querySelector('#character-cutout img').src !== before", arg=before)
        shot(page, "characters-03-brush-applied")

        fill(page, "character-name", "Shaun")
        page.click("#save-character")
        page.locator("#cast-gallery", has_text="Shaun").wait_for()

        bad = tmp_path / "notes.png"
        bad.write_text("not a picture at all")
        page.locator("#character-picture input[type=file]").set_input_files(str(bad))
        wait_toast(page, "not a readable PNG, JPEG or WebP")
        shot(page, "characters-04-bad-upload")

    studio = Studio.open(data)
    try:
        stored = characters.get_character(studio, "Flock", "Shaun")
        mask = characters.mask_array(studio.assets.open(stored.mask_hash))
    finally:
        studio.close()
    assert mask[BODY].mean() > 0.97  # the white body stayed with its outline
    painted = mask & ~ellipse_mask(H, W, 150, 240, 106, 126)
    assert painted[: H // 4].sum() > 100  # the green stroke above the body joined the mask
    assert Image.open(studio.assets.path(stored.image_hash)).size == (W, H)
    assert np.count_nonzero(painted[H // 4:]) == 0
