"""Comic export: PDF, PNG pages and CBZ from one page-layout model.

Build a ComicDocument and PageSettings, then call export_pdf, export_png or export_cbz;
each returns an ExportReport whose warnings name text that had to be cut and panels
drawn as placeholders.
"""
from story.export.cbz import export_cbz
from story.export.document import Balloon, ComicDocument, ComicPanel, PageSettings
from story.export.output import ExportExistsError, ExportReport
from story.export.pdf import export_pdf
from story.export.png import export_png

__all__ = ["Balloon", "ComicDocument", "ComicPanel", "ExportExistsError", "ExportReport", "PageSettings",
           "export_cbz", "export_pdf", "export_png"]
