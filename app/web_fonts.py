"""The shipped CJK font served to the browser, so Chinese, Japanese and Korean names show as
text, not boxes, on systems without a CJK font of their own.

The @font-face points at assets/fonts (an allowed path of the server) and claims only the
CJK code points (unicode-range), so the browser downloads the file only for a page that
shows such text, and uses it only after the system's fonts in the theme's list.
"""
from __future__ import annotations

from engine.fonts import font_path

FAMILY = "AnyStory CJK"
CJK_RANGES = "U+2E80-2FFF, U+3000-303F, U+3040-30FF, U+3100-31FF, U+3400-4DBF, U+4E00-9FFF, U+AC00-D7AF, U+F900-FAFF, U+FF00-FFEF"


def font_face_css() -> str:
    """The @font-face rule for the shipped CJK fallback face."""
    url = f"gradio_api/file={font_path('DroidSansFallback')}"
    return (f'@font-face {{ font-family: "{FAMILY}"; src: url("{url}") format("truetype"); '
            f"unicode-range: {CJK_RANGES}; font-display: swap; }}\n")
