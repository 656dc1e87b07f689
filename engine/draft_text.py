"""Text on draft panels: the band at the bottom that holds the DRAFT badge and the prompt.

Everything that is not picture lives in that band, whose height depends only on the panel
size (`band_height`), so the comic export can cut it off exactly and keep the art alone.
Text uses the shipped fonts' fallback chain (engine/fonts.py, shared with the PDF export),
so Chinese, Japanese, Korean and Cyrillic prompts print instead of empty boxes.
"""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from engine.fonts import draw_text, text_width

ELLIPSIS = "…"
MAX_CAPTION_LINES = 2
SMALL_PANEL = 240
"""Panels less tall than this get a one-line band."""
BADGE_COLOUR = (200, 32, 44)
BAND_COLOUR = (22, 22, 28)
TEXT_COLOUR = (245, 245, 245)
BADGE_TEXT = "DRAFT"
ROLE, BADGE_ROLE = "caption", "title"


def text_size(width: int, height: int) -> int:
    """Pixel size of the band's text for a (width x height) panel."""
    return max(10, min(40, round(min(width, height) * 0.028)))


def band_height(width: int, height: int) -> int:
    """Height in pixels of the bottom band (badge and prompt) of a (width x height) draft."""
    size = text_size(width, height)
    lines = MAX_CAPTION_LINES if height >= SMALL_PANEL else 1
    return lines * round(size * 1.3) + 2 * max(4, size // 2)


def _split_to_fit(word: str, size: float, max_width: float) -> list[str]:
    """Break a word wider than `max_width` (e.g. CJK text without spaces) into pieces."""
    pieces, current = [], ""
    for ch in word:
        if current and text_width(current + ch, ROLE, size) > max_width:
            pieces.append(current)
            current = ""
        current += ch
    return pieces + [current]


def _ellipsise(line: str, size: float, max_width: float) -> str:
    while line and text_width(line + ELLIPSIS, ROLE, size) > max_width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def wrap_text(text: str, size: float, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to `max_width` pixels; text beyond `max_lines` ends in an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, ROLE, size) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        *full, current = _split_to_fit(word, size, max_width)
        lines.extend(full)
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [_ellipsise(lines[max_lines - 1], size, max_width)]
    return lines


@dataclass(frozen=True)
class Band:
    """The bottom band of a draft: its height, the badge's width and the prompt's lines."""

    height: int
    size: int
    padding: int
    badge_width: int
    lines: list[str]


def layout_band(prompt: str, width: int, height: int) -> Band:
    """Text size, badge width and prompt line breaks for a (width x height) panel."""
    size = text_size(width, height)
    padding = max(4, size // 2)
    badge_width = round(text_width(BADGE_TEXT, BADGE_ROLE, size) + 2 * padding)
    max_lines = MAX_CAPTION_LINES if height >= SMALL_PANEL else 1
    room = width - badge_width - 3 * padding
    lines = wrap_text(prompt, size, room, max_lines) if room > size else []
    return Band(band_height(width, height), size, padding, badge_width, lines)


def draw_band(image: Image.Image, band: Band) -> None:
    """Paint the band over the bottom of `image`: the red DRAFT badge, then the prompt."""
    w, h = image.size
    top = h - band.height
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, top, w, h), fill=BAND_COLOUR)
    pad, size = band.padding, band.size
    badge = (pad, top + pad, pad + band.badge_width, h - pad)
    draw.rounded_rectangle(badge, radius=pad, fill=BADGE_COLOUR)
    middle = (badge[1] + badge[3]) / 2
    draw_text(draw, BADGE_TEXT, BADGE_ROLE, (badge[0] + pad, middle + 0.36 * size), size, TEXT_COLOUR)
    line_h = round(size * 1.3)
    first = middle - line_h * (len(band.lines) - 1) / 2 + 0.36 * size
    for i, line in enumerate(band.lines):
        draw_text(draw, line, ROLE, (badge[2] + 2 * pad, first + i * line_h), size, TEXT_COLOUR)
