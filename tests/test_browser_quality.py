"""In a real browser (draft engine, the sample story): Variants with "Keep the best" selects
a variant and the likeness shows under the history and in the routing legend; painting a
region in the "Redo one region" editor and redoing it adds a render whose pixels outside the
painted stroke are the original's.

Screenshots go to test-artifacts/quality-*.png.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from story import panels, renders
from story.studio import Studio
from tests.browser_helpers import CHROMIUM, chromium, open_page, served_app, shot, wait_toast

pytestmark = [  # in CI (CI=true) a missing chromium fails: .ci/run installs it
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def paint_stroke(page, elem_id: str) -> None:
    """Drag the brush diagonally across the middle of an ImageEditor."""
    editor = page.locator(f"#{elem_id}")
    editor.locator("button[aria-label=Brush]").click()
    box = editor.locator("canvas").first.bounding_box()
    x, y = box["x"] + box["width"] / 2 - 60, box["y"] + box["height"] / 2 - 100
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(20):
        page.mouse.move(x + i * 6, y + i * 3)
    page.mouse.up()


def test_keep_best_likeness_and_region_redo_in_the_browser(tmp_path):
    with served_app(tmp_path / "data") as url, chromium() as browser:
        page = open_page(browser, url)
        page.click("#open-sample")
        page.locator("#panel-title", has_text="Panel 1 of 5").wait_for()
        page.locator("#panel-strip .thumbnail-item").nth(2).click()  # Mira and Rusty
        page.locator("#panel-title", has_text="Panel 3 of 5").wait_for()
        page.locator("#keep-best input").check()
        page.click("#variants-panel")
        wait_toast(page, "Kept the best variant")
        page.locator("#history-likeness", has_text="likeness Mira").wait_for()
        page.locator("#history .thumbnail-item").nth(4).wait_for()  # four variants and the sample's render
        page.locator("#show-routing input").check()
        page.locator("#routing-legend", has_text="likeness").wait_for()
        shot(page, "quality-1-keep-best")

        page.get_by_text("Redo one region").click()
        page.locator("#region-editor canvas").first.wait_for()
        page.wait_for_timeout(1500)  # the editor draws the render
        paint_stroke(page, "region-editor")
        shot(page, "quality-2-painted")
        page.click("#redo-region")  # the editor's upload, render and refresh are slow on a busy CPU
        page.locator("#history-likeness", has_text="region redo of").wait_for(timeout=180_000)
        shot(page, "quality-3-redone")
        page.close()

    studio = Studio.open(tmp_path / "data")
    try:
        panel = panels.list_panels(studio, "The Lantern in the Woods")[2]
        redo = renders.get_render(studio, panel.selected_render_id)
        parent = renders.get_render(studio, redo.parent_render_id)
        region = np.asarray(studio.assets.open(redo.region_hash)) > 127
        before = np.asarray(studio.assets.open(parent.image_hash).convert("RGB"))
        after = np.asarray(studio.assets.open(redo.image_hash).convert("RGB"))
        variants = [r for r in renders.list_renders(studio, panel.id) if r.params.get("variants") == 4]
    finally:
        studio.close()
    assert 0.002 < region.mean() < 0.3  # the stroke, scaled to the render's size
    assert np.array_equal(before[~region], after[~region])
    assert [s["name"] for s in parent.likeness["subjects"]] == ["Mira", "Rusty"]
    lowest = {r.id: min(s["score"] for s in r.likeness["subjects"]) for r in variants}
    assert parent.id == max(lowest, key=lowest.get)  # the redo painted on the variant kept as the best
