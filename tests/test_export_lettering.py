"""Lettering: font fallback per run, wrapping, auto-sizing with warnings, tails to speakers."""
import math

from story.export import Balloon, ComicPanel, PageSettings
from engine.fonts import runs, text_width
from story.export.layout import Rect
from story.export.lettering import fit_text, letter_panel, wrap
from story.export.regions import Cast, character_grids

PANEL = Rect(0, 0, 300, 260)
NOBODY = Cast({}, PANEL)


def cast(boxes: dict[str, Rect]) -> Cast:
    """Characters standing in page rectangles of PANEL."""
    normalised = {name: (r.x / PANEL.w, r.y / PANEL.h, r.right / PANEL.w, r.bottom / PANEL.h) for name, r in boxes.items()}
    return Cast(character_grids(ComicPanel(index=1, character_boxes=normalised)), PANEL)


def test_runs_pick_a_face_that_has_each_character():
    assert runs("Hi Борис 你好!", "balloon") == [("ComicNeue", "Hi "), ("NotoSans", "Борис "),
                                                ("DroidSansFallback", "你好"), ("ComicNeue", "!")]
    assert [face for face, _ in runs("Narration 旁白", "caption")] == ["NotoSans", "DroidSansFallback"]


def test_wrap_breaks_at_spaces_and_between_cjk_characters():
    lines = wrap("one two three four five six", "balloon", 10, text_width("one two three", "balloon", 10))
    assert lines == ["one two three", "four five six"]
    cjk = wrap("这是一个很长的中文句子需要换行", "balloon", 10, 45)
    assert len(cjk) > 1 and "".join(cjk) == "这是一个很长的中文句子需要换行"
    assert all(text_width(line, "balloon", 10) <= 45 for line in cjk)


def test_fit_shrinks_text_before_giving_up():
    text = "A fairly long line of dialogue that needs a few lines in a balloon."
    roomy = fit_text(text, "balloon", 120, 200, 11, 6)
    tight = fit_text(text, "balloon", 120, 30, 11, 6)
    assert roomy.size == 11 and not roomy.cut
    assert 6 <= tight.size < 11 and not tight.cut
    assert " ".join(tight.lines) == text


def test_overlong_balloon_warns_instead_of_clipping_silently():
    panel = ComicPanel(index=7, balloons=[Balloon("Anna", "blah " * 300)])
    lettering = letter_panel(panel, PANEL, NOBODY, PageSettings())
    assert len(lettering.warnings) == 1
    assert "Panel 7 is too crowded" in lettering.warnings[0] and "Anna" in lettering.warnings[0]
    assert lettering.lines[-1].text.endswith("\u2026")
    assert all(line.size == 8 for line in lettering.lines)


def test_markup_is_kept_as_typed():
    text = "<b>bold</b> & <i>x</i> &amp; <br/>"
    lettering = letter_panel(ComicPanel(index=1, balloons=[Balloon("A", text)]), PANEL, NOBODY, PageSettings())
    assert " ".join(line.text for line in lettering.lines) == text


def test_tail_points_towards_the_known_speaker():
    def tip(speakers):
        lettering = letter_panel(ComicPanel(index=1, balloons=[Balloon("Boris", "Over here!")]), PANEL,
                                 cast(speakers), PageSettings())
        balloon = lettering.shapes[-1].points
        centre = (sum(x for x, _ in balloon) / len(balloon), sum(y for _, y in balloon) / len(balloon))
        return max(balloon, key=lambda p: math.dist(p, centre))  # the tail tip sticks out furthest

    right = tip({"Boris": Rect(220, 150, 60, 100)})
    left = tip({"Boris": Rect(10, 150, 60, 100)})
    assert right[0] > 150 > left[0]
    assert right[1] > 60 and left[1] > 60


def test_balloons_follow_reading_order_and_rtl_starts_on_the_right():
    panel = ComicPanel(index=1, caption="Meanwhile...", balloons=[Balloon("A", "First line."),
                                                                  Balloon("B", "Second line.")])

    def lines(direction):
        lettering = letter_panel(panel, PANEL, NOBODY, PageSettings(reading_direction=direction))
        return [next(l for l in lettering.lines if l.text.startswith(w)) for w in ("Meanwhile", "First", "Second")]

    for direction, forward in (("ltr", 1), ("rtl", -1)):
        caption, first, second = lines(direction)
        assert (caption.runs[0].x < PANEL.w / 2) == (direction == "ltr"), "the caption sits in the first corner"
        for before, after in ((caption, first), (first, second)):
            lower = after.baseline > before.baseline + 10
            along = abs(after.baseline - before.baseline) <= 10 and (after.runs[0].x - before.runs[0].x) * forward > 0
            assert lower or along, f"{after.text!r} does not read after {before.text!r} ({direction})"
