"""PDF export read back with pypdf and rendered with pdftoppm against the PNG export."""
import os
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pypdf
import pytest
from PIL import Image

from story.export import Balloon, ExportExistsError, PageSettings, export_pdf
from story.export.compose import compose
from story.export.png import render_page
from export_helpers import sample_story

CHINESE = "与此同时，在城堡里。"
RUSSIAN = "Привет, Борис!"
MARKUP = "<b>bold</b> & <i>"


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    folder = tmp_path_factory.mktemp("story")
    document = sample_story(folder, count=6)
    panels = list(document.panels)
    panels[1] = replace(panels[1], caption=CHINESE, balloons=(Balloon("Anna", RUSSIAN), Balloon("Boris", MARKUP)))
    panels[4] = replace(panels[4], image_path=None, prompt="A castle at dawn & <dragons>")
    return replace(document, panels=panels)


@pytest.fixture(scope="module")
def exported(story, tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "story.pdf"
    settings = PageSettings(page_size="us-comic", layout="2x2")
    return export_pdf(story, settings, path), settings


def _text(reader):
    return "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_has_title_page_pages_text_and_metadata(exported):
    report, _ = exported
    reader = pypdf.PdfReader(report.path)
    assert len(reader.pages) == report.pages == 3      # title + 6 panels on 2x2 pages
    assert reader.metadata.title == "The Storm" and reader.metadata.author == "A. Writer"
    assert reader.metadata.creator == "AnyStory Studio"
    text = "".join(_text(reader).split())   # lines wrap anywhere: compare without white space
    for expected in ("The Storm", CHINESE, RUSSIAN, MARKUP, "we have", "A castle at dawn & <dragons>"):
        assert "".join(expected.split()) in text
    assert any("no render" in w for w in report.warnings)


def test_pdf_embeds_truetype_fonts_and_images(exported):
    reader = pypdf.PdfReader(exported[0].path)
    embedded = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor and "/FontFile2" in descriptor.get_object():
                embedded.add(str(font["/BaseFont"]).split("+")[-1])
    assert {"ComicNeue-Regular", "NotoSans-Regular", "DroidSansFallback"} <= embedded
    assert [len(page.images) for page in reader.pages] == [0, 4, 1]  # panel 5 is a placeholder


@pytest.mark.skipif(shutil.which("pdftoppm") is None and not os.environ.get("CI"), reason="pdftoppm (poppler-utils) is not installed")
def test_pdf_pages_render_like_the_png_export(exported, story, tmp_path):
    report, settings = exported
    dpi = 40
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(report.path), str(tmp_path / "p")], check=True)
    scenes, _ = compose(story, settings)
    for number, scene in enumerate(scenes, start=1):
        poppler = Image.open(next(tmp_path.glob(f"p-{number}.png"))).convert("L")
        ours = render_page(scene, dpi).convert("L").resize(poppler.size)
        small = (poppler.width // 4, poppler.height // 4)
        diff = np.abs(np.asarray(poppler.resize(small), float) - np.asarray(ours.resize(small), float))
        # anti-aliasing differs at edges (about 3 grey levels); a mirrored page scores over 15
        assert diff.mean() < 6.0, f"page {number} differs by {diff.mean():.1f} grey levels"
        assert np.asarray(poppler).std() > 10   # the page is not blank


def test_rtl_pdf_asks_viewers_for_right_to_left(story, tmp_path):
    report = export_pdf(story, PageSettings(reading_direction="rtl", title_page=False), tmp_path / "rtl.pdf")
    reader = pypdf.PdfReader(report.path)
    assert reader.trailer["/Root"]["/ViewerPreferences"]["/Direction"] == "/R2L"


def test_existing_output_needs_force_and_is_replaced_atomically(story, tmp_path):
    path = tmp_path / "out.pdf"
    path.write_bytes(b"old")
    with pytest.raises(ExportExistsError, match="force"):
        export_pdf(story, PageSettings(), path)
    assert path.read_bytes() == b"old"
    export_pdf(story, PageSettings(), path, force=True)
    assert path.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]   # no temporary file left


def test_failed_export_leaves_no_partial_file(story, tmp_path):
    broken = replace(story, panels=[replace(story.panels[0], caption="x")])
    with pytest.raises(ValueError):
        export_pdf(broken, PageSettings(page_size="1x1in"), tmp_path / "bad.pdf")
    assert list(tmp_path.iterdir()) == []
