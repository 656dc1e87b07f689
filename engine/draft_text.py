"""Text on draft panels: font lookup, the prompt caption at the bottom and the DRAFT badge.

Fonts come from assets/fonts/ when a TrueType/OpenType file is there (the app ships fonts
with CJK coverage); otherwise Pillow's built-in scalable font is used, so the draft works
on a bare checkout.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Union

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(__file__).resolve().parents[1] / "assets" / "fonts"
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
ELLIPSIS = "…"
MAX_CAPTION_LINES = 2
SMALL_PANEL = 240
"""Panels less tall than this get a one-line caption."""
BADGE_COLOUR = (200, 32, 44)

Font = Union[ImageFont.FreeTypeFont, ImageFont.ImageFont]


def find_font_file(bold: bool = False, font_dir: Path = FONT_DIR) -> Optional[Path]:
    """The first font file in `font_dir` (by name) whose weight matches `bold`, else any
    font file there, else None when the folder is missing or holds no font."""
    if not font_dir.is_dir():
        return None
    files = sorted(p for p in font_dir.iterdir() if p.suffix.lower() in FONT_SUFFIXES)
    matching = [p for p in files if ("bold" in p.name.lower()) == bold]
    return (matching or files or [None])[0]


@lru_cache(maxsize=64)
def load_font(size: int, bold: bool = False, font_dir: Path = FONT_DIR) -> Font:
    """A font of `size` pixels from `font_dir`, falling back to Pillow's default font when
    there is none or it cannot be read."""
    path = find_font_file(bold, font_dir)
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def _split_to_fit(word: str, font: Font, max_width: float) -> list[str]:
    """Break a word wider than `max_width` (e.g. CJK text without spaces) into pieces."""
    pieces, current = [], ""
    for ch in word:
        if current and font.getlength(current + ch) > max_width:
            pieces.append(current)
            current = ""
        current += ch
    return pieces + [current]


def _ellipsise(line: str, font: Font, max_width: float) -> str:
    while line and font.getlength(line + ELLIPSIS) > max_width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def wrap_text(text: str, font: Font, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to `max_width` pixels; text beyond `max_lines` ends in an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        *full, current = _split_to_fit(word, font, max_width)
        lines.extend(full)
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [_ellipsise(lines[max_lines - 1], font, max_width)]
    return lines


@dataclass(frozen=True)
class Caption:
    """The prompt laid out for the bottom band of a panel."""

    lines: list[str]
    font: Font
    line_height: int
    padding: int

    @property
    def height(self) -> int:
        """Height of the band, 0 for an empty prompt."""
        return len(self.lines) * self.line_height + 2 * self.padding if self.lines else 0


def layout_caption(prompt: str, width: int, height: int) -> Caption:
    """Font size and line breaks for `prompt` on a (width x height) panel."""
    size = max(10, min(40, round(min(width, height) * 0.028)))
    font = load_font(size)
    padding = max(4, size // 2)
    max_lines = MAX_CAPTION_LINES if height >= SMALL_PANEL else 1  # leave room for characters
    lines = wrap_text(prompt, font, width - 2 * padding, max_lines)
    return Caption(lines, font, round(size * 1.3), padding)


def draw_caption(image: Image.Image, caption: Caption) -> None:
    """Darken the bottom band of `image` and write the caption lines centred on it."""
    if not caption.lines:
        return
    w, h = image.size
    top = h - caption.height
    band = image.crop((0, top, w, h))
    image.paste(Image.blend(band, Image.new("RGB", band.size, (16, 16, 20)), 0.6), (0, top))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(caption.lines):
        y = top + caption.padding + i * caption.line_height + caption.line_height // 2
        draw.text((w // 2, y), line, font=caption.font, fill=(245, 245, 245), anchor="mm")


def draw_draft_badge(image: Image.Image) -> None:
    """A red 'DRAFT' badge in the top-left corner: the panel is a preview, not a render."""
    w, h = image.size
    size = max(12, min(64, round(min(w, h) * 0.045)))
    font = load_font(size, bold=True)
    stroke = max(1, size // 20)  # emboldens the text when no bold font file is present
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = draw.textbbox((0, 0), "DRAFT", font=font, anchor="lt", stroke_width=stroke)
    pad, at = size // 3, size // 2
    box = (at, at, at + x1 - x0 + 2 * pad, at + y1 - y0 + 2 * pad)
    draw.rounded_rectangle(box, radius=pad, fill=BADGE_COLOUR, outline=(255, 255, 255),
                           width=max(1, size // 12))
    draw.text((at + pad - x0, at + pad - y0), "DRAFT", font=font, fill=(255, 255, 255),
              anchor="lt", stroke_width=stroke, stroke_fill=(255, 255, 255))
