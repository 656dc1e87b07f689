"""The Export tab's handlers called in process against a real project: every kind of file,
stored page choices, and the PNG/webtoon zips written atomically."""
from __future__ import annotations

import zipfile

import gradio as gr
import pypdf
import pytest
from PIL import Image

from app import export_tab
from app.context import AppContext
from engine.registry import EngineConfig
from story import characters, panels, projects
from story.models import Render
from story.renders import select_render

CHOICES = ["US comic (6.625 × 10.25 in)", "Auto (by panel shapes)", "Right to left (manga)", True,
           "Show whole pictures", 3.0]


@pytest.fixture
def tab(studio):
    with gr.Blocks():
        built = export_tab.build(AppContext(studio, EngineConfig()), gr.State(None))
    return built


@pytest.fixture
def project(studio):
    p = projects.create_project(studio, "Harbour Nights", author="Ana")
    characters.add_character(studio, p.id, "Mia")
    for number, colour in enumerate(("steelblue", "darkorange", "seagreen")):
        panel = panels.add_panel(studio, p.id, prompt=f"scene {number}", caption="Night fell." if number == 0 else "",
                                 characters=[("Mia", (0.2, 0.3, 0.6, 1.0))],
                                 balloons=[("Mia", "speech", "Where is the boat?"), (None, "speech", "Far away.")])
        digest = studio.assets.put_image(Image.new("RGB", (320, 240), colour))
        with studio.db.write() as session:
            row = Render(panel_id=panel.id, status="done", engine="draft", image_hash=digest)
            session.add(row)
            session.flush()
            render_id = row.id
        select_render(studio, panel.id, render_id)
    return p


def test_preview_and_every_kind_of_file(tab, project):
    shown = tab.preview(project.id, *CHOICES)
    assert set(shown) == {tab.pages} and shown[tab.pages] and all(p.endswith(".png") for p in shown[tab.pages])
    files: list[str] = []
    for kind in export_tab.KINDS:
        files = tab.export(kind, project.id, *CHOICES, files)[tab.files]
    assert [f.rsplit("/", 1)[1] for f in files] == [
        "Harbour-Nights.pdf", "Harbour-Nights.print.pdf", "Harbour-Nights.cbz", "Harbour-Nights.epub",
        "Harbour-Nights.webtoon.zip", "Harbour-Nights.pages.zip", "Harbour-Nights.bundle.zip"]
    pdf, printed, cbz, epub, webtoon, pages, _ = files
    assert pypdf.PdfReader(pdf).pages[0].trimbox == pypdf.PdfReader(pdf).pages[0].mediabox
    first = pypdf.PdfReader(printed).pages[0]
    assert float(first.mediabox.width) - float(first.trimbox.width) == pytest.approx(2 * 3 * 72 / 25.4, abs=0.01)
    with zipfile.ZipFile(cbz) as archive:
        assert "<Manga>YesAndRightToLeft</Manga>" in archive.read("ComicInfo.xml").decode()
        assert "<Characters>Mia</Characters>" in archive.read("ComicInfo.xml").decode()
    with zipfile.ZipFile(epub) as archive:
        assert archive.read("mimetype") == b"application/epub+zip"
    with zipfile.ZipFile(webtoon) as archive:
        assert archive.namelist()[0] == "strip-001.png"
    with zipfile.ZipFile(pages) as archive:
        assert archive.namelist()[:2] == ["page-000.png", "page-001.png"]
    leftovers = [p.name for p in (tab.ctx.studio.data_dir.exports).iterdir() if p.name.startswith(".")
                 and not p.name.startswith(".preview-")]
    assert leftovers == [], "no staging folder or partial file stays in exports/"


def test_choices_are_kept_with_the_project_and_restored(tab, project):
    tab.export("pdf", project.id, *CHOICES, None)
    restored = tab.project_changed(project.id)
    assert restored[tab.page] == CHOICES[0] and restored[tab.direction] == CHOICES[2]
    assert restored[tab.placement] == "Show whole pictures" and restored[tab.pages] == []
    assert tab.project_changed(None)[tab.page] == "A4"


def test_bad_bleed_and_no_project_are_refused(tab, project):
    with pytest.raises(ValueError, match="bleed"):
        tab.export("print", project.id, *CHOICES[:-1], 50.0, None)
    with pytest.raises(gr.Error):
        tab.export("pdf", None, *CHOICES, None)


def test_png_zip_is_written_atomically(tab, project, monkeypatch):
    first = tab.export("png", project.id, *CHOICES, None)[tab.files][0]
    before = open(first, "rb").read()
    real_write = zipfile.ZipFile.writestr
    calls = []

    def dying_write(self, *args, **kwargs):   # the process dies after the first page is in the zip
        calls.append(args)
        assert zipfile.is_zipfile(first), "the zip being served is never the one being written"
        if len(calls) > 1:
            raise KeyboardInterrupt("killed")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", dying_write)
    with pytest.raises(KeyboardInterrupt):
        tab.export("png", project.id, *CHOICES, None)
    assert open(first, "rb").read() == before, "the previous zip is intact"
    assert not [p for p in tab.ctx.studio.data_dir.exports.iterdir() if p.suffix == ".part"]
