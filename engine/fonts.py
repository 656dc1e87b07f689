"""The TrueType fonts shipped in assets/fonts, and per-character font fallback.

The one home of fonts for everything that writes text: the comic export (story/export) and
the draft renderer's prompt band and badge (engine/draft_text). It lives in engine/ so both
may import it. Every piece of text has a role (balloon, shout, caption, title); each role has a chain
of faces and each character is set in the first face that has a glyph for it, so Latin,
Cyrillic and CJK mix freely. Widths come from reportlab's metrics of the same files
that Pillow draws with, so the PDF and PNG outputs measure text identically.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

FONT_DIR = Path(__file__).resolve().parents[1] / "assets" / "fonts"

FACES = {
    "ComicNeue": "ComicNeue-Regular.ttf",
    "ComicNeue-Bold": "ComicNeue-Bold.ttf",
    "NotoSans": "NotoSans-Regular.ttf",
    "NotoSans-Bold": "NotoSans-Bold.ttf",
    "DroidSansFallback": "DroidSansFallback.ttf",
}

ROLES = {
    "balloon": ("ComicNeue", "NotoSans", "DroidSansFallback"),
    "shout": ("ComicNeue-Bold", "NotoSans-Bold", "DroidSansFallback"),
    "caption": ("NotoSans", "DroidSansFallback"),
    "title": ("NotoSans-Bold", "DroidSansFallback"),
}

LINE_SPACING = 1.2


def font_path(face: str) -> Path:
    """Path of a shipped face; a clear error when the assets are incomplete."""
    path = FONT_DIR / FACES[face]
    if not path.is_file():
        raise FileNotFoundError(f"Font file {path} is missing; the export needs the fonts shipped in assets/fonts.")
    return path


@lru_cache(maxsize=None)
def _glyphs(face: str) -> frozenset[int]:
    """Register the face with reportlab (once) and return the code points it covers.
    reportlab is imported here, on first use, so the app starts without it."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    font = TTFont(face, str(font_path(face)))
    pdfmetrics.registerFont(font)
    return frozenset(font.face.charToGlyph)


def register_fonts() -> None:
    """Make every shipped face known to reportlab by its FACES name."""
    for face in FACES:
        _glyphs(face)


def _face_for(char: str, chain: tuple[str, ...]) -> str:
    code = ord(char)
    for face in chain:
        if code in _glyphs(face):
            return face
    return chain[0]


def runs(text: str, role: str) -> list[tuple[str, str]]:
    """Split text into (face, substring) runs; spaces, digits and punctuation stay in the
    run they follow when its face has them, so "Привет, Борис!" is one run."""
    chain = ROLES[role]
    result: list[tuple[str, str]] = []
    for char in text:
        keep = result and not char.isalpha() and ord(char) in _glyphs(result[-1][0])
        face = result[-1][0] if keep else _face_for(char, chain)
        if result and result[-1][0] == face:
            result[-1] = (face, result[-1][1] + char)
        else:
            result.append((face, char))
    return result


def text_width(text: str, role: str, size: float) -> float:
    """Width in points of text set in the role's fonts at size."""
    return sum(face_width(part, face, size) for face, part in runs(text, role))


def face_width(text: str, face: str, size: float) -> float:
    """Width in points of a single-face run."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    _glyphs(face)
    return stringWidth(text, face, size)


@lru_cache(maxsize=128)
def pillow_font(face: str, pixels: float) -> ImageFont.FreeTypeFont:
    """The face as a Pillow font `pixels` high; basic layout, so advances match the metrics above."""
    return ImageFont.truetype(str(font_path(face)), pixels, layout_engine=ImageFont.Layout.BASIC)


def draw_run(draw: ImageDraw.ImageDraw, face: str, text: str, origin: tuple[float, float], size: float,
             fill: tuple[int, ...], scale: float = 1.0) -> float:
    """Draw a single-face run with its baseline at origin (points x scale = pixels), glyph by
    glyph at the advances text_width measures (hinted Pillow advances drift at small sizes);
    returns the x where the run ends, in points."""
    font, (x, baseline) = pillow_font(face, size * scale), origin
    for char in text:
        if not char.isspace():
            draw.text((x * scale, baseline * scale), char, fill=fill, font=font, anchor="ls")
        x += face_width(char, face, size)
    return x


def draw_text(draw: ImageDraw.ImageDraw, text: str, role: str, origin: tuple[float, float], size: float,
              fill: tuple[int, ...]) -> None:
    """Draw text in the role's fallback chain, baseline at origin (pixels)."""
    x, baseline = origin
    for face, part in runs(text, role):
        x = draw_run(draw, face, part, (x, baseline), size, fill)
