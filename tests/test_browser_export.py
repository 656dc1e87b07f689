"""The Export tab in a real browser: the new formats download, and CJK names show in the
shipped font where the system has none (Debian's chromium driven by Playwright, launch.py
with the draft engine). Screenshots go to test-artifacts/export-*.png."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from story import characters, projects
from story.sample import load_sample
from story.studio import Studio
from tests.browser_helpers import ARTIFACTS, CHROMIUM, chromium, http_status, open_page, served_app, shot

pytestmark = [  # in CI (CI=true) a missing chromium fails: .ci/run installs it
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (apt-get install chromium)"),
]
CJK_NAME = "小明的故事"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    studio = Studio.open(data)
    sample = load_sample(studio)
    characters.add_character(studio, sample.id, "小明")
    projects.create_project(studio, CJK_NAME)
    studio.close()
    with served_app(data) as url:
        yield url


def test_export_tab_offers_the_new_formats_and_cjk_names_render(app):
    with chromium() as browser:
        page = open_page(browser, app)
        page.get_by_text(CJK_NAME).first.wait_for()
        loaded = page.evaluate("""async () => {
            const faces = await document.fonts.load('16px "AnyStory CJK"', '小明');
            return faces.length;
        }""")
        assert loaded >= 1, "the browser loaded the shipped CJK font"
        shot(page, "export-01-cjk-project-name")
        page.click("#open-sample")
        page.locator("#story-header", has_text="The Lantern in the Woods").wait_for()
        page.locator("#panel-strip").wait_for()   # opening the sample moves to the Story tab first
        page.get_by_role("tab", name="Export").click()
        page.get_by_label("Show whole pictures").check()
        for kind, suffix in (("epub", ".epub"), ("webtoon", ".webtoon.zip"), ("print", ".print.pdf")):
            page.click(f"#export-{kind}")
            page.locator(f'#export-files a[download$="{suffix}"]').first.wait_for()
        shot(page, "export-02-formats")
        link = page.locator('#export-files a[download$=".webtoon.zip"]').first
        with page.expect_download() as download:
            link.click()
        strips = ARTIFACTS / "story.webtoon.zip"
        download.value.save_as(strips)
        with zipfile.ZipFile(strips) as archive:
            assert archive.namelist()[0] == "strip-001.png"
        page.close()
    font_url = page_font_url(app)
    assert http_status(font_url) == 200


def page_font_url(base: str) -> str:
    from app.web_fonts import font_face_css

    css = font_face_css()
    return f"{base}/" + css.split('url("', 1)[1].split('")', 1)[0]
