"""In a real browser (draft engine): draw a box for a character of the sample story, render,
turn on "Show where each character went", and check the overlay the page shows: the boxed
character's colour lies inside the drawn box, the free character's outside it.

Screenshots go to test-artifacts/overlay-*.png, the overlay itself to overlay-image.png.
"""
from __future__ import annotations

import os

import io
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from story import panels
from story.studio import Studio
from tests.browser_helpers import ARTIFACTS, CHROMIUM, chromium, click_image_and_wait, open_page, served_app, shot

pytestmark = [  # in CI (CI=true) a missing chromium fails: .ci/run installs it
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
BOX = (0.55, 0.3, 0.95, 0.95)  # where the writer puts Mira; Rusty has no box


def fetch_image(page, selector: str) -> Image.Image:
    """The picture an <img> of the page shows, fetched from its src like the browser did."""
    src = page.locator(selector).first.get_attribute("src")
    with urllib.request.urlopen(urllib.parse.urljoin(page.url, src), timeout=10) as response:
        return Image.open(io.BytesIO(response.read())).convert("RGB")


def test_the_overlay_shows_a_boxed_character_inside_its_box(tmp_path):
    with served_app(tmp_path / "data") as url, chromium() as browser:
        page = open_page(browser, url)
        page.click("#open-sample")
        page.locator("#panel-title", has_text="Panel 1 of 5").wait_for()
        # Panel 3: Mira and Rusty, neither boxed. Mira is first under "Box for".
        page.locator("#panel-strip .thumbnail-item").nth(2).click()
        page.locator("#panel-title", has_text="Panel 3 of 5").wait_for()
        page.get_by_text("Engine settings (advanced)").click()
        page.get_by_text("The draft engine has no advanced settings.").wait_for()
        page.locator("#box-for input").first.wait_for()
        assert page.locator("#box-for input").first.input_value() == "Mira"
        click_image_and_wait(page, "panel-preview", BOX[0], BOX[1])
        click_image_and_wait(page, "panel-preview", BOX[2], BOX[3])
        shot(page, "overlay-1-box-drawn")
        page.click("#render-panel")
        page.locator("#history .thumbnail-item").first.wait_for()
        assert not page.locator("#routing-overlay").is_visible()

        page.locator("#show-routing input").check()
        page.locator("#routing-overlay img").first.wait_for(state="visible")
        legend = page.locator("#routing-legend").inner_text()
        assert "Mira" in legend and "Rusty" in legend
        page.locator("#routing-overlay").scroll_into_view_if_needed()
        shot(page, "overlay-2-shown")
        overlay = fetch_image(page, "#routing-overlay img")
        overlay.save(ARTIFACTS / "overlay-image.png")

        page.locator("#show-routing input").uncheck()
        page.locator("#routing-overlay").wait_for(state="hidden")
        page.close()

    studio = Studio.open(tmp_path / "data")
    try:
        stored = panels.list_panels(studio, "The Lantern in the Woods")[2].characters[0]
    finally:
        studio.close()
    assert stored.name == "Mira" and all(abs(a - b) < 0.03 for a, b in zip(stored.box, BOX)), stored.box

    rgb = np.asarray(overlay, np.int16)
    r, b = rgb[..., 0], rgb[..., 2]
    mira, rusty = b - r > 60, r - b > 60  # Mira's box colour is blue, Rusty's orange
    inside = np.zeros(mira.shape, bool)
    h, w = mira.shape
    inside[int(stored.box[1] * h) - 2:int(stored.box[3] * h) + 3, int(stored.box[0] * w) - 2:int(stored.box[2] * w) + 3] = True
    assert mira.sum() > 0.03 * mira.size and rusty.sum() > 0.02 * rusty.size
    assert mira[~inside].sum() == 0
    assert rusty[inside].mean() < 0.05  # Rusty goes to the room Mira's box leaves
