"""CBZ: a zip of PNG pages with a ComicInfo.xml (ComicRack schema 2.0) for comic readers.

ComicInfo carries what Komga and Kavita read: Title, Series, Number, Summary, Writer,
PageCount, LanguageISO, Manga (YesAndRightToLeft for right-to-left stories), Characters
(the story's character registry) and one <Page> per image with its type and size, in the
schema's element order.
"""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from story.export.compose import compose
from story.export.document import ComicDocument, PageSettings
from story.export.output import ExportReport, atomic_write
from story.export.png import check_dpi, page_file_names, render_page


def export_cbz(document: ComicDocument, settings: PageSettings, out_path: Path | str, dpi: int = 150,
               force: bool = False) -> ExportReport:
    """Write the comic as a CBZ; rtl stories are marked Manga=YesAndRightToLeft."""
    check_dpi(dpi)
    scenes, warnings = compose(document, settings)

    def write(tmp: Path) -> None:
        pages = []
        with zipfile.ZipFile(tmp, "w") as archive:
            for scene, name in zip(scenes, page_file_names(scenes)):
                buffer = io.BytesIO()
                image = render_page(scene, dpi)
                image.save(buffer, "PNG", dpi=(dpi, dpi))
                archive.writestr(name, buffer.getvalue(), compress_type=zipfile.ZIP_STORED)
                pages.append((scene.label == "title", image.size, buffer.tell()))
            archive.writestr("ComicInfo.xml", comic_info(document, settings, pages),
                             compress_type=zipfile.ZIP_DEFLATED)

    path = atomic_write(Path(out_path), write, force)
    return ExportReport(path, len(scenes), warnings, [path])


def comic_info(document: ComicDocument, settings: PageSettings,
               pages: list[tuple[bool, tuple[int, int], int]]) -> bytes:
    """ComicInfo.xml; pages are (is cover, pixel size, bytes) in archive order."""
    root = ET.Element("ComicInfo", {"xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                    "xmlns:xsd": "http://www.w3.org/2001/XMLSchema"})
    fields = (("Title", document.title), ("Series", document.series or document.title),
              ("Number", document.number), ("Summary", document.summary), ("Writer", document.author),
              ("PageCount", str(len(pages))), ("LanguageISO", document.language),
              ("Manga", "YesAndRightToLeft" if settings.reading_direction == "rtl" else "No"),
              ("Characters", ", ".join(document.characters)))
    for tag, text in fields:
        if text:
            ET.SubElement(root, tag).text = text
    listing = ET.SubElement(root, "Pages")
    for number, (cover, (width, height), size) in enumerate(pages):
        ET.SubElement(listing, "Page", {"Image": str(number), "Type": "FrontCover" if cover else "Story",
                                        "ImageSize": str(size), "ImageWidth": str(width),
                                        "ImageHeight": str(height)})
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
