"""CBZ archives with ComicInfo.xml, and PNG page folders."""
import xml.etree.ElementTree as ET
import zipfile

import pytest
from PIL import Image

from story.export import ExportExistsError, PageSettings, export_cbz, export_png
from comicinfo_schema import validate
from export_helpers import sample_story


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    return sample_story(tmp_path_factory.mktemp("story"), count=5)


def _info(path):
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        root = ET.fromstring(archive.read("ComicInfo.xml"))
        sizes = [Image.open(archive.open(name)).size for name in names if name.endswith(".png")]
    return names, root, sizes


def test_cbz_holds_page_images_and_comic_info(story, tmp_path):
    report = export_cbz(story, PageSettings(layout="2x2"), tmp_path / "story.cbz", dpi=50)
    names, root, sizes = _info(report.path)
    assert names == ["page-000.png", "page-001.png", "page-002.png", "ComicInfo.xml"]
    assert root.tag == "ComicInfo"
    assert root.findtext("Title") == "The Storm" and root.findtext("Writer") == "A. Writer"
    assert root.findtext("Series") == "The Storm" and root.findtext("Number") == "1"
    assert root.findtext("Summary") == "Anna and Boris outrun a storm."
    assert root.findtext("Characters") == "Anna, Boris" and root.findtext("LanguageISO") == "en"
    assert root.findtext("PageCount") == "3" and root.findtext("Manga") == "No"
    pages = root.find("Pages").findall("Page")
    assert [p.get("Image") for p in pages] == ["0", "1", "2"]
    assert [p.get("Type") for p in pages] == ["FrontCover", "Story", "Story"]
    assert [(int(p.get("ImageWidth")), int(p.get("ImageHeight"))) for p in pages] == sizes
    assert sizes[0] == (414, 585)   # A4 at 50 dpi
    with zipfile.ZipFile(report.path) as archive:
        assert validate(archive.read("ComicInfo.xml")) == []


def test_comic_info_check_catches_what_the_schema_forbids():
    assert validate(b"<ComicInfo><Writer>A</Writer><Title>T</Title></ComicInfo>")   # out of order
    assert validate(b"<ComicInfo><PageCount>three</PageCount></ComicInfo>")
    assert validate(b"<ComicInfo><Manga>RightToLeft</Manga></ComicInfo>")
    assert validate(b"<ComicInfo><Pages><Page Type='Cover'/></Pages></ComicInfo>")      # no Image, bad type
    assert validate(b"<ComicInfo><Author>A</Author></ComicInfo>")


def test_rtl_cbz_is_marked_as_manga_read_right_to_left(story, tmp_path):
    report = export_cbz(story, PageSettings(reading_direction="rtl", title_page=False), tmp_path / "m.cbz", dpi=40)
    _, root, _ = _info(report.path)
    assert root.findtext("Manga") == "YesAndRightToLeft"
    assert root.find("Pages").find("Page").get("Type") == "Story"


def test_cbz_refuses_to_overwrite_without_force(story, tmp_path):
    path = tmp_path / "story.cbz"
    path.write_text("keep me")
    with pytest.raises(ExportExistsError):
        export_cbz(story, PageSettings(), path, dpi=40)
    assert path.read_text() == "keep me"
    export_cbz(story, PageSettings(), path, dpi=40, force=True)
    assert zipfile.is_zipfile(path)


def test_png_pages_at_the_chosen_dpi(story, tmp_path):
    out = tmp_path / "pages"
    report = export_png(story, PageSettings(page_size="letter", title_page=False, layout="3-rows"), out, dpi=72)
    assert [p.name for p in report.files] == ["page-001.png", "page-002.png"]
    for path in report.files:
        with Image.open(path) as image:
            assert image.size == (612, 792)
            assert image.info["dpi"] == pytest.approx((72, 72), abs=0.05)
    with pytest.raises(ExportExistsError):
        export_png(story, PageSettings(title_page=False), out, dpi=72)
    # a forced re-export with fewer pages removes the pages it no longer has
    (out / "notes.txt").write_text("not ours")
    export_png(story, PageSettings(title_page=False, layout="2x3"), out, dpi=72, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "page-001.png"]
    with pytest.raises(ValueError, match="DPI"):
        export_png(story, PageSettings(), out, dpi=5000, force=True)
