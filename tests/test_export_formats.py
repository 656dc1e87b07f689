"""Publishing formats read back: EPUB 3 fixed layout through EPUBCheck, webtoon slices, the
print PDF's boxes and image resolution, and pdffonts on every font of a PDF."""
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace

import pypdf
import pytest
from PIL import Image

from story.export import PageSettings, export_pdf
from story.export.compose import ImageOp, compose
from story.export.epub import export_epub
from story.export.layout import POINTS_PER, page_size_points
from story.export.webtoon import export_webtoon
from export_helpers import sample_story

MISSING_IN_DEV = "not installed (CI installs it through .ci/run and fails instead of skipping)"
needs_epubcheck = pytest.mark.skipif(shutil.which("epubcheck") is None and not os.environ.get("CI"),
                                     reason=f"epubcheck {MISSING_IN_DEV}")
needs_pdffonts = pytest.mark.skipif(shutil.which("pdffonts") is None and not os.environ.get("CI"),
                                    reason=f"pdffonts (poppler-utils) {MISSING_IN_DEV}")


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    return sample_story(tmp_path_factory.mktemp("story"), count=5)


def epubcheck_errors(path) -> list[str]:
    """EPUBCheck's errors and fatal errors for a file ([] when it passes). Debian's
    /usr/bin/epubcheck is the jar itself (run through binfmt where set up): run it with java."""
    program = os.path.realpath(shutil.which("epubcheck") or "epubcheck")
    command = ["java", "-jar", program] if program.endswith(".jar") else [program]
    result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=300)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if re.match(r"(ERROR|FATAL)", line)]
    if result.returncode != 0 and not problems:
        problems = [f"epubcheck exited with {result.returncode}: {result.stdout[-500:]}"]
    return problems


@needs_epubcheck
def test_fixed_layout_epub_passes_epubcheck_and_a_broken_one_does_not(story, tmp_path):
    rtl = PageSettings(reading_direction="rtl")
    report = export_epub(story, rtl, tmp_path / "storm.epub", dpi=40)
    assert epubcheck_errors(report.path) == []
    broken = tmp_path / "broken.epub"
    with zipfile.ZipFile(report.path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            if item.filename != "OEBPS/nav.xhtml":     # the EPUB 3 navigation document is required
                target.writestr(item, source.read(item.filename))
    assert epubcheck_errors(broken), "the check must fail when EPUBCheck reports errors"


def test_epub_is_pre_paginated_one_image_per_page_with_metadata(story, tmp_path):
    report = export_epub(story, PageSettings(reading_direction="rtl", layout="2x2"), tmp_path / "storm.epub", dpi=40)
    with zipfile.ZipFile(report.path) as book:
        assert book.namelist()[0] == "mimetype" and book.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        opf = book.read("OEBPS/content.opf").decode()
        pages = sorted(n for n in book.namelist() if re.fullmatch(r"OEBPS/page-\d+\.xhtml", n))
        images = sorted(n for n in book.namelist() if n.startswith("OEBPS/images/"))
        first = book.read(pages[0]).decode()
        size = Image.open(book.open(images[0])).size
    assert len(pages) == len(images) == report.pages == 3       # title + 5 panels on two 2x2 pages
    assert '<meta property="rendition:layout">pre-paginated</meta>' in opf
    assert 'page-progression-direction="rtl"' in opf
    for expected in ("<dc:title>The Storm</dc:title>", "<dc:creator>A. Writer</dc:creator>",
                     "<dc:language>en</dc:language>", "Anna and Boris outrun a storm.", "<dc:subject>Boris</dc:subject>",
                     'properties="cover-image"'):
        assert expected in opf
    assert f'content="width={size[0]}, height={size[1]}"' in first


def test_webtoon_slices_are_at_most_800_by_1280_and_carry_the_lettering(story, tmp_path):
    report = export_webtoon(story, PageSettings(), tmp_path / "strip")
    assert [p.name for p in report.files][:2] == ["strip-001.png", "strip-002.png"]
    heights = []
    for path in report.files:
        with Image.open(path) as image:
            assert image.width == 800 and image.height <= 1280
            heights.append(image.height)
    # five square panels at 800 px wide (less side gutters) stack to about 5 x 760 px
    assert 5 * 700 < sum(heights) < 5 * 820
    with Image.open(report.files[0]) as image:
        grey = image.convert("L")
        dark = sum(grey.histogram()[:60])
    assert dark > 500, "balloon outlines and letters are drawn on the strip"
    with pytest.raises(FileExistsError):
        export_webtoon(story, PageSettings(), tmp_path / "strip")


def test_print_pdf_has_bleed_trim_and_bleed_boxes_and_300_dpi_images(story, tmp_path):
    bleed = 3 * POINTS_PER["mm"]
    settings = PageSettings(page_size="us-comic", bleed=bleed, margin=0, gutter=8, title_page=False)
    report = export_pdf(story, settings, tmp_path / "print.pdf", print_ready=True)
    reader = pypdf.PdfReader(report.path)
    trim_w, trim_h = page_size_points("us-comic")
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(trim_w + 2 * bleed, abs=0.01)
        assert [float(v) for v in page.trimbox] == pytest.approx([bleed, bleed, bleed + trim_w, bleed + trim_h], abs=0.01)
        assert [float(v) for v in page.bleedbox] == pytest.approx([0, 0, trim_w + 2 * bleed, trim_h + 2 * bleed], abs=0.01)
    scenes, _ = compose(story, settings)
    placed = [op.dest for op in scenes[0].ops if isinstance(op, ImageOp)]
    pixels = sorted(image.image.width for image in reader.pages[0].images)
    assert pixels == sorted(round(dest.w / 72 * 300) for dest in placed)
    # with no margin, the art reaches the trim and runs on into the bleed
    assert min(dest.x for dest in placed) == pytest.approx(0, abs=0.01)
    assert max(dest.right for dest in placed) == pytest.approx(trim_w + 2 * bleed, abs=0.01)


@needs_pdffonts
def test_pdffonts_finds_every_font_embedded(story, tmp_path):
    path = export_pdf(replace(story, title="Буря 风暴"), PageSettings(), tmp_path / "fonts.pdf").path
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = listing.splitlines()[2:]
    assert len(rows) >= 3
    for row in rows:   # columns end: emb sub uni object-number generation
        assert row.split()[-5] == "yes", f"not embedded: {row}"
    assert "Helvetica" not in listing


def test_a_panel_taller_than_a_slice_is_cut_across_and_short_ones_share_slices():
    from story.export.webtoon import slice_strip

    def panel(height, shade):
        return Image.new("RGB", (800, height), (shade, shade, shade))

    slices = list(slice_strip([panel(500, 10), panel(600, 20), panel(3000, 30), panel(300, 40)]))
    assert [s.height for s in slices] == [1100, 1280, 1280, 740]
    assert slices[3].getpixel((0, 0)) == (30, 30, 30) and slices[3].getpixel((0, 739)) == (40, 40, 40)
