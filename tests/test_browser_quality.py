"""In a real browser (draft engine, the sample story): Variants with "Keep the best" selects
a variant and the likeness shows under the history and in the routing legend; three region
redos in a row on one page load, each painted in the "Redo one region" editor, each a new
render whose parent is the previous one and whose pixels outside the painted stroke are its
parent's; the editor shows each new render, and an idle editor does not upload itself.

Screenshots go to test-artifacts/quality-*.png.
"""
from __future__ import annotations

import os
import re
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


def paint_stroke(page, elem_id: str, shift: int = 0) -> None:
    """Drag the brush diagonally across the middle of an ImageEditor (`shift` px lower)."""
    editor = page.locator(f"#{elem_id}")
    editor.locator("button[aria-label=Brush]").click()
    box = editor.locator("canvas").first.bounding_box()
    x, y = box["x"] + box["width"] / 2 - 60, box["y"] + box["height"] / 2 - 100 + shift
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(20):
        page.mouse.move(x + i * 6, y + i * 3)
    page.mouse.up()


def painted_on(page) -> int:
    """The render the region editor says it shows."""
    text = page.locator("#region-target").inner_text()
    return int(re.search(r"#(\d+)", text).group(1))


def redo_region(page, shift: int) -> int:
    """Paint a stroke on the render the open editor shows and redo it; the new render's id,
    once the editor shows it (the refresh brings it into the open panel)."""
    before = painted_on(page)
    page.wait_for_timeout(1500)  # the editor draws the render
    paint_stroke(page, "region-editor", shift)
    page.click("#redo-region")  # the editor's upload, render and refresh are slow on a busy CPU
    page.locator("#region-target", has_text=re.compile(rf"#(?!{before}\b)\d+")).wait_for(timeout=180_000)
    page.locator("#history-likeness", has_text=f"(region redo of #{before})").wait_for()
    return painted_on(page)


def test_keep_best_likeness_and_three_region_redos_in_the_browser(tmp_path):
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
        page.locator("#region-target", has_text="Painting on render").wait_for()
        chain = [painted_on(page)]
        for n, shift in enumerate((0, 60, 120), 1):
            chain.append(redo_region(page, shift))
            shot(page, f"quality-{n + 1}-redone")
        uploads: list[str] = []  # an idle editor must not re-upload itself (see quality_ui.wire)
        page.on("request", lambda r: uploads.append(r.url) if "/upload" in r.url else None)
        paint_stroke(page, "region-editor")
        page.wait_for_timeout(7000)  # two ticks of the queue note's timer
        assert uploads == []
        assert page.locator("#region-editor .eta-bar, #region-editor .progress-text").count() == 0
        page.close()

    studio = Studio.open(tmp_path / "data")
    try:
        panel = panels.list_panels(studio, "The Lantern in the Woods")[2]
        redos = [renders.get_render(studio, i) for i in chain[1:]]
        parents = [renders.get_render(studio, r.parent_render_id) for r in redos]
        variants = [r for r in renders.list_renders(studio, panel.id) if r.params.get("variants") == 4]
        pictures = [(np.asarray(studio.assets.open(redo.region_hash)) > 127,
                     np.asarray(studio.assets.open(parent.image_hash).convert("RGB")),
                     np.asarray(studio.assets.open(redo.image_hash).convert("RGB")))
                    for redo, parent in zip(redos, parents)]
    finally:
        studio.close()
    assert panel.selected_render_id == chain[-1]
    assert [p.id for p in parents] == chain[:-1]  # each redo painted on the previous one
    for region, before, after in pictures:
        assert 0.002 < region.mean() < 0.3  # the stroke, scaled to the render's size
        assert np.array_equal(before[~region], after[~region])
    assert not np.array_equal(pictures[0][0], pictures[1][0])  # each its own stroke
    assert [s["name"] for s in parents[0].likeness["subjects"]] == ["Mira", "Rusty"]
    lowest = {r.id: min(s["score"] for s in r.likeness["subjects"]) for r in variants}
    assert chain[0] == max(lowest, key=lowest.get)  # the first redo painted on the variant kept as the best
