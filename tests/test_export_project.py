"""A stored project exported as a comic: selected renders, placeholders, lettering, settings."""
import pytest
from PIL import Image
from pypdf import PdfReader

from story import characters, panels, projects
from story.errors import InvalidInput
from story.export import export_pdf
from story.export.from_project import comic_document, page_settings
from story.models import Render


def add_done_render(studio, panel_id: int, color: str) -> int:
    """A finished render row pointing at a real image in the asset store, selected."""
    digest = studio.assets.put_image(Image.new("RGB", (256, 256), color))
    with studio.db.write() as session:
        row = Render(panel_id=panel_id, status="done", engine="draft", image_hash=digest)
        session.add(row)
        session.flush()
        return row.id


def test_project_exports_renders_placeholders_and_dialogue(studio, tmp_path):
    from story.renders import select_render

    p = projects.create_project(studio, "Lighthouse", author="Ana")
    characters.add_character(studio, p.id, "Mia")
    first = panels.add_panel(studio, p.id, prompt="Mia on the pier", caption="Dawn.",
                             characters=[("Mia", (0.1, 0.2, 0.5, 1.0))], balloons=[("Mia", "speech", "Look <there> & now")])
    panels.add_panel(studio, p.id, prompt="the lamp room, empty")
    select_render(studio, first.id, add_done_render(studio, first.id, "steelblue"))

    document = comic_document(studio, p.id)
    assert document.title == "Lighthouse" and document.author == "Ana"
    one, two = document.panels
    assert one.image_path.is_file() and two.image_path is None
    assert one.character_boxes == {"Mia": (0.1, 0.2, 0.5, 1.0)}

    report = export_pdf(document, page_settings({"layout": "2-rows"}, title_page=False), tmp_path / "out.pdf")
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(tmp_path / "out.pdf").pages)
    assert "Look <there> & now" in text and "Dawn." in text and "the lamp room, empty" in text
    assert report.pages == 1


def test_page_settings_overlay_and_errors():
    assert page_settings({"layout": "2x2", "page_size": "a4"}, page_size="letter").page_size == "letter"
    with pytest.raises(InvalidInput, match="layout"):
        page_settings({}, layout="zigzag")


def test_empty_project_is_refused(studio):
    projects.create_project(studio, "Empty")
    with pytest.raises(InvalidInput, match="no panels"):
        comic_document(studio, "Empty")


def test_cli_exports_pdf_cbz_png_and_refuses_to_overwrite(tmp_path):
    import json
    import subprocess
    import sys
    import zipfile

    from tests.conftest import REPO

    data = tmp_path / "data"

    def cli(*args):
        return subprocess.run([sys.executable, "launch.py", "--data-dir", str(data), *args],
                              cwd=REPO, capture_output=True, text=True, timeout=120)

    assert cli("import-script", "tests/data/lantern_fox.json", "--project", "Fox").returncode == 0
    pdf = cli("export", "Fox", "--format", "pdf", "--out", str(tmp_path / "fox.pdf"), "--layout", "2x2", "--json")
    assert pdf.returncode == 0, pdf.stderr
    assert json.loads(pdf.stdout)["pages"] == len(PdfReader(tmp_path / "fox.pdf").pages)
    again = cli("export", "Fox", "--format", "pdf", "--out", str(tmp_path / "fox.pdf"))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    cbz = cli("export", "Fox", "--format", "cbz", "--out", str(tmp_path / "fox.cbz"), "--rtl", "--dpi", "40")
    assert cbz.returncode == 0, cbz.stderr
    with zipfile.ZipFile(tmp_path / "fox.cbz") as archive:
        assert "<Manga>YesAndRightToLeft</Manga>" in archive.read("ComicInfo.xml").decode()
    png = cli("export", "Fox", "--format", "png", "--out", str(tmp_path / "pages"), "--dpi", "40", "--no-title-page")
    assert png.returncode == 0, png.stderr
    assert sorted(p.name for p in (tmp_path / "pages").iterdir())[0] == "page-001.png"
    printed = cli("export", "Fox", "--format", "pdf", "--print", "--bleed", "5", "--margin", "0",
                  "--out", str(tmp_path / "print.pdf"))
    assert printed.returncode == 0, printed.stderr
    page = PdfReader(tmp_path / "print.pdf").pages[0]
    assert float(page.mediabox.width) - float(page.trimbox.width) == pytest.approx(10 * 72 / 25.4, abs=0.01)
    for bad, message in ((["--format", "cbz", "--print"], "--print"), (["--format", "pdf", "--print", "--bleed", "x"],
                                                                        "millimetres")):
        refused = cli("export", "Fox", *bad, "--out", str(tmp_path / "bad"))
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr
    for fmt, out in (("epub", "fox.epub"), ("webtoon", "strips")):
        done = cli("export", "Fox", "--format", fmt, "--out", str(tmp_path / out), "--dpi", "40")
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "strips" / "strip-001.png").is_file() and zipfile.is_zipfile(tmp_path / "fox.epub")


def test_a_draft_render_exports_its_art_and_routing_maps(studio):
    """A v2 draft render: the band is cut off, the routing map (stored like the worker does) is
    cropped with it, and a character with neither map nor box is marked unplaced."""
    import numpy as np

    from engine.draft import art_box
    from story.renders import select_render
    from story.routing_maps import maps_image

    p = projects.create_project(studio, "Harbour")
    for name in ("Mia", "Tom", "Ada"):
        characters.add_character(studio, p.id, name)
    panel = panels.add_panel(studio, p.id, prompt="Mia and Tom", characters=[("Mia", None), ("Tom", None),
                                                                             ("Ada", (0.0, 0.0, 0.2, 0.2))],
                             balloons=[("Mia", "speech", "Hi")])
    grid = np.zeros((400, 300), np.float32)
    grid[100:300, 50:120] = 1.0
    image_hash = studio.assets.put_image(Image.new("RGB", (300, 400), "white"))
    maps_hash = studio.assets.put_image(maps_image([grid], (300, 400)))
    with studio.db.write() as session:
        row = Render(panel_id=panel.id, status="done", engine="draft", fingerprint="draft-v2", image_hash=image_hash,
                     routing_maps_hash=maps_hash, params={"width": 300, "height": 400, "subjects": [{"name": "Mia"}]})
        session.add(row)
        session.flush()
        render_id = row.id
    select_render(studio, panel.id, render_id)
    (exported,) = comic_document(studio, p.id).panels
    bottom = art_box("draft-v2", 300, 400)[3]
    assert exported.draft and exported.art_box == (0, 0, 1, bottom / 400)
    assert exported.character_maps["Mia"].shape == (bottom, 300)
    assert exported.unplaced == ("Tom",)
    assert exported.character_boxes["Ada"] == pytest.approx((0.0, 0.0, 0.2, 0.2 * 400 / bottom))
