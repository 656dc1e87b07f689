"""EPUB 3 fixed layout: one pre-paginated XHTML page per comic page image, for e-book readers.

The package declares rendition:layout pre-paginated, each page's viewport is its image's
size, the spine runs right to left for manga (page-progression-direction="rtl"), and the
metadata matches ComicInfo's (title, series, writer, language, summary, characters). The
title page is the cover image. The file passes EPUBCheck (tests/test_export_formats.py).
"""
from __future__ import annotations

import io
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from story.export.compose import compose
from story.export.document import ComicDocument, PageSettings
from story.export.output import ExportReport, atomic_write
from story.export.png import check_dpi, render_page

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>
"""
PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" xml:lang={lang} lang={lang}>
<head><title>{title}</title><meta name="viewport" content="width={w}, height={h}"/>
<style>html, body {{ margin: 0; padding: 0; }} img {{ display: block; width: {w}px; height: {h}px; }}</style></head>
<body><img src="images/{image}" alt={alt}/></body>
</html>
"""
NAV = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" xml:lang={lang} lang={lang}>
<head><title>{title}</title></head>
<body><nav epub:type="toc" id="toc"><h1>{title}</h1><ol>
{items}
</ol></nav></body>
</html>
"""


def export_epub(document: ComicDocument, settings: PageSettings, out_path: Path | str, dpi: int = 150,
                force: bool = False) -> ExportReport:
    """Write the comic as a fixed-layout EPUB 3 with one page image per page."""
    check_dpi(dpi)
    scenes, warnings = compose(document, settings)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as book:
            book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
            book.writestr("META-INF/container.xml", CONTAINER)
            pages = []
            for number, scene in enumerate(scenes, start=1):
                image = render_page(scene, dpi)
                buffer = io.BytesIO()
                image.save(buffer, "PNG")
                name = f"page-{number:03d}"
                book.writestr(f"OEBPS/images/{name}.png", buffer.getvalue(), compress_type=zipfile.ZIP_STORED)
                book.writestr(f"OEBPS/{name}.xhtml", _page(document, name, image.size, scene.label))
                pages.append(name)
            book.writestr("OEBPS/nav.xhtml", _nav(document, pages, [s.label for s in scenes]))
            book.writestr("OEBPS/content.opf", package(document, settings, pages, cover=settings.title_page))

    path = atomic_write(Path(out_path), write, force)
    return ExportReport(path, len(scenes), warnings, [path])


def _page(document: ComicDocument, name: str, size: tuple[int, int], label: str) -> str:
    what = "Title page" if label == "title" else f"Page {label}"
    return PAGE.format(lang=quoteattr(document.language), title=escape(f"{document.title}: {what}"),
                       w=size[0], h=size[1], image=f"{name}.png", alt=quoteattr(f"{what} of {document.title}"))


def _nav(document: ComicDocument, pages: list[str], labels: list[str]) -> str:
    items = "\n".join(f'<li><a href="{name}.xhtml">{"Title page" if label == "title" else f"Page {label}"}</a></li>'
                      for name, label in zip(pages, labels))
    return NAV.format(lang=quoteattr(document.language), title=escape(document.title), items=items)


def package(document: ComicDocument, settings: PageSettings, pages: list[str], cover: bool) -> str:
    """content.opf: metadata, manifest and a spine in reading order."""
    identifier = uuid.uuid5(uuid.NAMESPACE_URL, f"anystory:{document.series}:{document.title}:{document.number}")
    modified = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = [f"<dc:identifier id=\"book-id\">urn:uuid:{identifier}</dc:identifier>",
            f"<dc:title>{escape(document.title or 'Untitled')}</dc:title>",
            f"<dc:language>{escape(document.language)}</dc:language>",
            f"<meta property=\"dcterms:modified\">{modified}</meta>",
            "<meta property=\"rendition:layout\">pre-paginated</meta>",
            "<meta property=\"rendition:orientation\">portrait</meta>",
            "<meta property=\"rendition:spread\">none</meta>"]
    if document.author:
        meta.append(f"<dc:creator>{escape(document.author)}</dc:creator>")
    if document.summary:
        meta.append(f"<dc:description>{escape(document.summary)}</dc:description>")
    meta += [f"<dc:subject>{escape(name)}</dc:subject>" for name in document.characters]
    if document.series:
        meta += ["<meta property=\"belongs-to-collection\" id=\"series\">" + escape(document.series) + "</meta>",
                 "<meta refines=\"#series\" property=\"collection-type\">series</meta>",
                 f"<meta refines=\"#series\" property=\"group-position\">{escape(document.number)}</meta>"]
    items = ['<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>']
    for number, name in enumerate(pages):
        cover_image = ' properties="cover-image"' if cover and number == 0 else ""
        items += [f'<item id="{name}" href="{name}.xhtml" media-type="application/xhtml+xml"/>',
                  f'<item id="{name}-image" href="images/{name}.png" media-type="image/png"{cover_image}/>']
    direction = "rtl" if settings.reading_direction == "rtl" else "ltr"
    spine = "\n    ".join(f'<itemref idref="{name}"/>' for name in pages)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="book-id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    {chr(10).join('    ' + line for line in meta).strip()}
  </metadata>
  <manifest>
    {chr(10).join('    ' + line for line in items).strip()}
  </manifest>
  <spine page-progression-direction="{direction}">
    {spine}
  </spine>
</package>
"""
