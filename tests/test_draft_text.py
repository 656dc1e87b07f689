"""Draft text: the band's wrapping, and the shared font fallback printing CJK and Cyrillic."""
from __future__ import annotations

import numpy as np
from PIL import Image

from engine.draft_text import ELLIPSIS, draw_band, layout_band, wrap_text
from engine.fonts import text_width


def test_long_prompt_wraps_to_two_lines_with_an_ellipsis() -> None:
    lines = wrap_text("the quick brown fox jumps over the lazy dog " * 10, 20, 300, 2)
    assert len(lines) == 2 and lines[-1].endswith(ELLIPSIS)
    assert all(text_width(line, "caption", 20) <= 300 for line in lines)


def test_words_wider_than_the_line_are_broken() -> None:
    lines = wrap_text("a " + "x" * 120 + " b", 20, 200, 10)
    assert "".join(lines).replace(" ", "") == "a" + "x" * 120 + "b"
    assert all(text_width(line, "caption", 20) <= 200 for line in lines)


def test_short_prompt_stays_on_one_line() -> None:
    assert wrap_text("  two  friends\nat home ", 20, 500, 2) == ["two friends at home"]
    assert wrap_text("", 20, 500, 2) == []


def _ink(text: str) -> np.ndarray:
    """The band of a 600x400 panel with `text`, as the light pixels right of the badge."""
    image = Image.new("RGB", (600, 400), "white")
    band = layout_band(text, *image.size)
    draw_band(image, band)
    pixels = np.asarray(image)[-band.height:, band.badge_width + 2 * band.padding:].min(axis=-1)
    return pixels > 200


def test_chinese_and_russian_print_as_glyphs_not_boxes() -> None:
    # a font without the glyphs draws one hollow box per character, so a text and its reverse
    # would ink the same pixels; real glyphs differ
    for text in ("与此同时在城堡里", "Щука Жила"):
        forward, backward = _ink(text), _ink(text[::-1])
        assert forward.sum() > 50
        assert (forward != backward).sum() > 0.3 * forward.sum(), f"{text!r} prints as boxes"
