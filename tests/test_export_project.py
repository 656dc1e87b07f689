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
    assert one.speaker_boxes == {"Mia": (0.1, 0.2, 0.5, 1.0)}

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
