"""Draft text helpers: font lookup in assets/fonts with a fallback, and caption wrapping."""
from __future__ import annotations

import shutil
from pathlib import Path

from PIL import ImageFont

from engine.draft_text import ELLIPSIS, find_font_file, load_font, wrap_text

SHIPPED_FONT = Path(__file__).resolve().parents[1] / "assets" / "fonts" / "NotoSans-Regular.ttf"


def test_font_lookup_tolerates_a_missing_folder(tmp_path: Path) -> None:
    assert find_font_file(font_dir=tmp_path / "absent") is None
    assert find_font_file(font_dir=tmp_path) is None
    assert isinstance(load_font(14, font_dir=tmp_path / "absent"), ImageFont.FreeTypeFont)


def test_font_lookup_picks_the_weight_asked_for(tmp_path: Path) -> None:
    for name in ("README.txt", "NotoSansCJK-Bold.ttc", "NotoSansCJK-Regular.ttc", "Zeta.otf"):
        (tmp_path / name).write_bytes(b"")
    assert find_font_file(bold=False, font_dir=tmp_path).name == "NotoSansCJK-Regular.ttc"
    assert find_font_file(bold=True, font_dir=tmp_path).name == "NotoSansCJK-Bold.ttc"
    (tmp_path / "NotoSansCJK-Bold.ttc").unlink()
    assert find_font_file(bold=True, font_dir=tmp_path).name == "NotoSansCJK-Regular.ttc"


def test_unreadable_font_file_falls_back_to_the_default(tmp_path: Path) -> None:
    (tmp_path / "Broken.ttf").write_bytes(b"not a font")
    font = load_font(18, font_dir=tmp_path)
    assert font.getlength("DRAFT") > 0


def test_font_file_from_the_folder_is_used(tmp_path: Path) -> None:
    shutil.copy(SHIPPED_FONT, tmp_path / "NotoSans-Regular.ttf")
    font = load_font(18, font_dir=tmp_path)
    assert font.getname()[0] == "Noto Sans"


def test_long_prompt_wraps_to_two_lines_with_an_ellipsis() -> None:
    font = ImageFont.load_default(size=20)
    lines = wrap_text("the quick brown fox jumps over the lazy dog " * 10, font, 300, 2)
    assert len(lines) == 2 and lines[-1].endswith(ELLIPSIS)
    assert all(font.getlength(line) <= 300 for line in lines)


def test_words_wider_than_the_line_are_broken() -> None:
    font = ImageFont.load_default(size=20)
    lines = wrap_text("a " + "x" * 120 + " b", font, 200, 10)
    assert "".join(lines).replace(" ", "") == "a" + "x" * 120 + "b"
    assert all(font.getlength(line) <= 200 for line in lines)


def test_short_prompt_stays_on_one_line() -> None:
    font = ImageFont.load_default(size=20)
    assert wrap_text("  two  friends\nat home ", font, 500, 2) == ["two friends at home"]
    assert wrap_text("", font, 500, 2) == []
