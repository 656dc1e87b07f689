"""The Characters tab in a real browser (Debian's chromium, launch.py with the no-weights
segmenter): a white character inside its outline is cut out whole at upload and shown on a
light and a dark ground, three brush strokes applied one after the other each add a part
(the saved mask has all three), an idle brush uploads nothing, and a file that is no picture
gets the CLI's message. Screenshots go to test-artifacts/."""
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
STROKES = [(0.28, 0.32), (0.48, 0.52), (0.68, 0.72)]
"""Three short strokes above the body, apart (fractions of the brush canvas's width)."""


def _white_sheep(path: Path) -> Path:
    """A body of exactly the background's white inside a black outline, on white."""
    from scipy import ndimage

    outline = ndimage.binary_dilation(BODY, iterations=4) & ~BODY
    compose(plain(H, W, (255, 255, 255)), [(outline, (15, 15, 15))]).save(path)
    return path


def paint(page, x0: float, x1: float) -> None:
    """A green stroke across the brush canvas from x0 to x1 (fractions), above the body."""
    canvas = page.locator("#mask-brush canvas").first
    page.locator("#mask-brush button[aria-label='Brush']").first.click()
    box = canvas.bounding_box()
    y = box["y"] + box["height"] * 0.13  # above the body, on the white background
    page.mouse.move(box["x"] + box["width"] * x0, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x1, y, steps=12)
    page.mouse.up()


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
        page.locator("#mask-brush canvas").first.wait_for(state="visible")
        for n, (x0, x1) in enumerate(STROKES, 1):  # each stroke applied before the next is painted
            paint(page, x0, x1)
            before = page.locator("#character-cutout img").get_attribute("src")
            page.click("#apply-brush")
            page.wait_for_function(
                "before => document.querySelector('#character-cutout img').src !== before", arg=before)
            shot(page, f"characters-0{n + 1}-brush-stroke-{n}-applied")
        uploads: list[str] = []  # an idle brush must not re-upload itself (see app/editor_handoff.py)
        page.on("request", lambda r: uploads.append(r.url) if "/upload" in r.url else None)
        paint(page, 0.45, 0.55)  # painted, not applied
        page.wait_for_timeout(7000)  # two ticks of the Story tab's queue timer
        assert uploads == []
        assert page.locator("#brush-panel .eta-bar, #brush-panel .progress-text").count() == 0

        fill(page, "character-name", "Shaun")
        page.click("#save-character")
        page.locator("#cast-gallery", has_text="Shaun").wait_for()

        bad = tmp_path / "notes.png"
        bad.write_text("not a picture at all")
        page.locator("#character-picture input[type=file]").set_input_files(str(bad))
        wait_toast(page, "not a readable PNG, JPEG or WebP")
        shot(page, "characters-05-bad-upload")

    studio = Studio.open(data)
    try:
        stored = characters.get_character(studio, "Flock", "Shaun")
        mask = characters.mask_array(studio.assets.open(stored.mask_hash))
    finally:
        studio.close()
    assert mask[BODY].mean() > 0.97  # the white body stayed with its outline
    painted = mask & ~ellipse_mask(H, W, 150, 240, 106, 126)
    columns = np.flatnonzero(painted[: H // 4].any(axis=0))
    runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    assert len(runs) == len(STROKES) and painted[: H // 4].sum() > 300  # each green stroke joined the mask
    assert Image.open(studio.assets.path(stored.image_hash)).size == (W, H)
    assert np.count_nonzero(painted[H // 4:]) == 0
