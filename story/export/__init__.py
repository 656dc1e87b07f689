"""Comic export: PDF (also print-ready), PNG pages, CBZ, EPUB and webtoon strips from one
page-layout model.

Build a ComicDocument and PageSettings, then call export_pdf, export_png, export_cbz,
export_epub or export_webtoon; each returns an ExportReport whose warnings name panels too
crowded for their text and panels drawn as placeholders.
"""
from story.export.cbz import export_cbz
from story.export.document import Balloon, ComicDocument, ComicPanel, PageSettings
from story.export.epub import export_epub
from story.export.output import ExportExistsError, ExportReport
from story.export.pdf import export_pdf
from story.export.png import export_png
from story.export.webtoon import export_webtoon

__all__ = ["Balloon", "ComicDocument", "ComicPanel", "ExportExistsError", "ExportReport", "PageSettings",
           "export_cbz", "export_epub", "export_pdf", "export_png", "export_webtoon"]
