"""Export a 100-panel story of draft-like 768x768 renders to PDF, CBZ, EPUB and webtoon; print seconds and sizes.

Run from the repository root: python bench/export_bench.py [--panels N] [--dpi N]
Aim: the PDF in under 10 s on the 2-core development machine.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from export_helpers import sample_story  # noqa: E402
from story.export import PageSettings, export_cbz, export_pdf  # noqa: E402
from story.export.epub import export_epub  # noqa: E402
from story.export.webtoon import export_webtoon  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=100)
    parser.add_argument("--dpi", type=int, default=150, help="CBZ page resolution")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        document = sample_story(folder, count=args.panels)
        settings = PageSettings(page_size="us-comic")
        for name, export in (("pdf", lambda p: export_pdf(document, settings, p)),
                             ("cbz", lambda p: export_cbz(document, settings, p, dpi=args.dpi)),
                             ("epub", lambda p: export_epub(document, settings, p, dpi=args.dpi)),
                             ("webtoon", lambda p: export_webtoon(document, settings, p))):
            start = time.perf_counter()
            report = export(folder / f"story.{name}")
            seconds = time.perf_counter() - start
            size = sum(path.stat().st_size for path in report.files) / 2**20
            print(f"{name}: {args.panels} panels, {report.pages} pages, {seconds:.2f} s, {size:.1f} MiB"
                  + (f" ({args.dpi} dpi)" if name in ("cbz", "epub") else ""))


if __name__ == "__main__":
    main()
