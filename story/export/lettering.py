"""Lettering geometry: captions, narration boxes, balloons with tails, text wrapped and sized to fit.

Text takes its line breaks and balloon size before it shrinks (never below the settings'
minimum) and never breaks a word that fits a line. Each balloon or narration box goes, in
reading order, where it hides the least of any character (regions.Cast: routing maps or
boxes); a tail reaches the speaker's head. Panels that cannot be lettered that way are
named in warnings ("Panel N is too crowded"). Balloon outlines are in balloon_outline.py.

Everything is computed in page points (origin top-left) as plain shapes and text lines,
which pdf.py and png.py draw identically. User text is only ever measured and drawn as
literal strings, never parsed as markup.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from story.export.balloon_outline import KIND_REACH, balloon_shapes, tail_tip
from story.export.document import Balloon, ComicPanel, PageSettings
from engine.fonts import LINE_SPACING, face_width, runs, text_width
from story.export.layout import Rect
from story.export.regions import Cast
from story.export.shapes import BLACK, RGB, Shape, TextLine, TextRun

CAPTION_FILL = (255, 243, 186)
PLACEHOLDER_FILL, PLACEHOLDER_INK = (228, 228, 228), (80, 80, 80)

PAD = 4.0            # between text and its box
INSET = 6.0          # between a panel's edge and its lettering
GAP = 5.0            # between balloons
SIZE_STEP = 0.5      # auto-sizing steps down by this many points
BALANCE = 2.4        # balloons aim for text blocks this many times wider than tall
MAX_BALLOON_W, MAX_BALLOON_H = 0.9, 0.6   # a balloon may take this share of its panel
POSITIONS = 13       # balloon centres tried along each side of a panel
ROOM_FACTOR = 10.0  # a panel wants this many times its text's area (balloon, margins, the picture)
COVER_LIMIT = 0.15   # lettering that must hide more of a character than this makes the export warn
ELLIPSIS = "\u2026"
KIND_ROLE = {"speech": "balloon", "thought": "balloon", "shout": "shout", "whisper": "balloon"}
CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
TOKEN = re.compile(r"\s+|[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+")


@dataclass(frozen=True)
class FittedText:
    lines: tuple[str, ...]
    size: float
    width: float
    height: float
    cut: bool


@dataclass
class Lettering:
    shapes: list[Shape] = field(default_factory=list)
    lines: list[TextLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def wrap(text: str, role: str, size: float, width: float) -> list[str]:
    """Greedy line breaking at spaces and between CJK characters; over-long words are split."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line, space = "", False
        for token in TOKEN.findall(paragraph):
            if token.isspace():
                space = bool(line)
                continue
            joiner = " " if space and not (CJK.match(token) and CJK.match(line[-1:])) else ""
            if line and text_width(line + joiner + token, role, size) <= width:
                line += joiner + token
            else:
                if line:
                    lines.append(line)
                pieces = _split_word(token, role, size, width)
                lines.extend(pieces[:-1])
                line = pieces[-1]
            space = False
        lines.append(line)
    return lines


def _split_word(word: str, role: str, size: float, width: float) -> list[str]:
    pieces = [""]
    for char in word:
        if pieces[-1] and text_width(pieces[-1] + char, role, size) > width:
            pieces.append("")
        pieces[-1] += char
    return pieces


def line_height(size: float) -> float:
    return size * LINE_SPACING


def fit_text(text: str, role: str, max_w: float, max_h: float, size: float, min_size: float,
             balanced: bool = False) -> FittedText:
    """Wrap text into max_w x max_h at the largest size from size down to min_size.

    Line breaks are tried before shrinking, and a size at which some word would have to be
    broken is skipped. When even min_size does not fit, the lines that fit are kept, the
    last one ending in an ellipsis, and cut=True tells the caller to warn.
    """
    max_w = max(max_w, 1.0)
    while True:
        longest = max((text_width(t, role, size) for t in TOKEN.findall(text) if not t.isspace()), default=0.0)
        for width in _candidate_widths(text, role, size, max_w, balanced) if longest <= max_w else []:
            lines = wrap(text, role, size, max(width, longest))
            if len(lines) * line_height(size) <= max_h and all(text_width(l, role, size) <= max_w for l in lines):
                return _fitted(lines, role, size, cut=False)
        if size - SIZE_STEP < min_size - 1e-9:
            break
        size -= SIZE_STEP
    size = min_size
    lines = wrap(text, role, size, max_w)
    keep = max(1, int(max_h // line_height(size)))
    if len(lines) <= keep:
        return _fitted(lines, role, size, cut=True)  # too wide: a single CJK glyph or letter per line
    last = lines[keep - 1]
    while last and text_width(last + ELLIPSIS, role, size) > max_w:
        last = last[:-1]
    return _fitted(lines[:keep - 1] + [last.rstrip() + ELLIPSIS], role, size, cut=True)


def _candidate_widths(text: str, role: str, size: float, max_w: float, balanced: bool) -> list[float]:
    if not balanced:
        return [max_w]
    ideal = math.sqrt(BALANCE * line_height(size) * text_width(text, role, size))
    return [min(max(ideal, size * 4), max_w), max_w]


def _fitted(lines: list[str], role: str, size: float, cut: bool) -> FittedText:
    width = max(text_width(line, role, size) for line in lines)
    return FittedText(tuple(lines), size, width, len(lines) * line_height(size), cut)


def set_text(fitted: FittedText, role: str, box: Rect, align: str = "center", color: RGB = BLACK) -> list[TextLine]:
    """Position fitted lines in box (vertically centred), each split into font runs."""
    size, step = fitted.size, line_height(fitted.size)
    top = box.y + (box.h - fitted.height) / 2
    result = []
    for number, line in enumerate(fitted.lines):
        offset = (box.w - text_width(line, role, size)) / 2 if align == "center" else 0.0
        x, placed = box.x + offset, []
        for face, part in runs(line, role):
            placed.append(TextRun(face, part, x))
            x += face_width(part, face, size)
        if placed:  # blank lines only take their height
            result.append(TextLine(tuple(placed), top + number * step + 0.95 * size, size, color))
    return result


def lettering_area(panel: ComicPanel, settings: PageSettings) -> float:
    """Square points a panel needs to letter its text at full size clear of its characters:
    the text's own area, times the room balloons, margins and the picture take around it."""
    texts = [(panel.caption, "caption")] + [(b.text, KIND_ROLE[b.kind]) for b in panel.balloons]
    ink = sum(text_width(text, role, settings.font_size) * line_height(settings.font_size)
              for text, role in texts if text)
    return ink * ROOM_FACTOR


def letter_panel(panel: ComicPanel, rect: Rect, cast: Cast, settings: PageSettings) -> Lettering:
    """The caption in the panel's first corner, then balloons and narration boxes in reading
    order, each where it covers the least of any character; tails reach the speakers."""
    result = Lettering()
    placed: list[Rect] = []
    if panel.caption:
        placed.append(_caption_box(panel, panel.caption, rect, settings, result, corner=True,
                                   cast=cast, placed=placed))
    for balloon in panel.balloons:
        if balloon.speaker.strip():
            placed.append(_balloon(panel, balloon, rect, cast, placed, settings, result))
        else:
            placed.append(_caption_box(panel, balloon.text, rect, settings, result, corner=False,
                                       cast=cast, placed=placed))
    return result


def _caption_box(panel: ComicPanel, text: str, rect: Rect, settings: PageSettings, out: Lettering,
                 corner: bool, cast: Cast, placed: list[Rect]) -> Rect:
    """A narration box: the panel caption in the reading corner, narration wherever it hides least."""
    fitted = fit_text(text, "caption", rect.w * 0.9 - 2 * PAD, rect.h * 0.35 - 2 * PAD,
                      settings.font_size * 0.9, settings.min_font_size)
    if fitted.cut:
        out.warnings.append(_cut_warning(panel, "narration", fitted))
    w, h = fitted.width + 2 * PAD, fitted.height + 2 * PAD
    rtl = settings.reading_direction == "rtl"
    if corner:
        box = Rect(rect.right - INSET - w if rtl else rect.x + INSET, rect.y + INSET, w, h)
    else:
        box = _place(w, h, rect, placed, cast, rtl, None, panel, out)
    out.shapes.append(Shape(_rect_points(box), fill=CAPTION_FILL, width=0.8))
    out.lines += set_text(fitted, "caption", Rect(box.x + PAD, box.y + PAD, fitted.width, fitted.height), align="left")
    return box


def _balloon(panel: ComicPanel, balloon: Balloon, rect: Rect, cast: Cast, placed: list[Rect],
             settings: PageSettings, out: Lettering) -> Rect:
    """Fit, place and outline one balloon; returns the box its outline occupies."""
    role, reach = KIND_ROLE[balloon.kind], KIND_REACH[balloon.kind]
    fitted = fit_text(balloon.text, role, (rect.w * MAX_BALLOON_W / reach - 2 * INSET - 2 * PAD) / math.sqrt(2),
                      (rect.h * MAX_BALLOON_H / reach - 2 * PAD) / math.sqrt(2), settings.font_size,
                      settings.min_font_size, balanced=True)
    if fitted.cut:
        out.warnings.append(_cut_warning(panel, f"{balloon.kind} balloon of {balloon.speaker}", fitted))
    b = fitted.height / math.sqrt(2) + PAD
    a = max(fitted.width / math.sqrt(2) + PAD, 1.3 * b)  # a little wider than tall, as balloons are
    a = min(a, (rect.w - 2 * INSET) / (2 * reach))
    head = cast.head(balloon.speaker)
    box = _place(2 * a * reach, 2 * b * reach, rect, placed, cast, settings.reading_direction == "rtl",
                 head, panel, out)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    side = 1 if cx < rect.x + rect.w / 2 else -1
    tip = tail_tip((cx, cy), a * reach, b * reach, head, rect, side,
                   min_length=24.0 if balloon.kind == "thought" else 10.0)
    out.shapes += balloon_shapes(balloon.kind, (cx, cy), a, b, tip)
    out.lines += set_text(fitted, role, Rect(cx - fitted.width / 2, cy - fitted.height / 2, fitted.width,
                                             fitted.height))
    return box


def _place(w: float, h: float, rect: Rect, placed: list[Rect], cast: Cast, rtl: bool,
           near: tuple[float, float] | None, panel: ComicPanel, out: Lettering) -> Rect:
    """The w x h box inside the panel that covers the least of any character, overlaps no
    earlier lettering and reads after it; a warning when the panel is too crowded for that."""
    best: tuple[float, Rect] | None = None
    for box in _candidates(w, h, rect):
        clash = sum(_overlap(box, other) for other in placed)
        order = 0.0 if not placed or _reads_after(box, placed[-1], rtl) else 1.0
        covered = cast.covered(box)
        cost = (1000 * clash / (w * h) + 100 * order + 10 * sum(covered) + 10 * max(covered, default=0.0)
                + (box.y - rect.y) / rect.h + _distance(box, near, rect, rtl))
        if best is None or cost < best[0]:
            best = (cost, box)
    cost, box = best  # type: ignore[misc]
    hidden = max(zip(cast.covered(box), cast.grids), default=(0.0, ""))
    if cost >= 100:
        out.warnings.append(f"Panel {panel.index} is too crowded: its lettering overlaps or reads out of order; "
                            "shorten the text or split the panel.")
    elif hidden[0] > COVER_LIMIT:
        out.warnings.append(f"Panel {panel.index} is too crowded: lettering hides {hidden[0]:.0%} of {hidden[1]}; "
                            "shorten the text or give the panel more room.")
    return box


def _candidates(w: float, h: float, rect: Rect) -> list[Rect]:
    left, top = rect.x + INSET, rect.y + INSET
    spare_x, spare_y = max(rect.w - 2 * INSET - w, 0.0), max(rect.h - 2 * INSET - h, 0.0)
    steps = [i / (POSITIONS - 1) for i in range(POSITIONS)]
    return [Rect(left + spare_x * sx, top + spare_y * sy, w, h) for sy in steps for sx in steps]


def _overlap(a: Rect, b: Rect) -> float:
    w = min(a.right, b.right) + GAP - max(a.x, b.x)
    h = min(a.bottom, b.bottom) + GAP - max(a.y, b.y)
    return w * h if w > 0 and h > 0 else 0.0


def _reads_after(box: Rect, previous: Rect, rtl: bool) -> bool:
    """Comics read top to bottom, and along the line left to right (right to left for manga)."""
    if box.y >= previous.y + previous.h * 0.5:
        return True
    if box.y < previous.y - previous.h * 0.25:
        return False
    centre, before = box.x + box.w / 2, previous.x + previous.w / 2
    return centre < before if rtl else centre > before


def _distance(box: Rect, near: tuple[float, float] | None, rect: Rect, rtl: bool) -> float:
    """A small pull towards the speaker's side of the panel (or the reading start)."""
    target = near[0] if near else (rect.right if rtl else rect.x)
    return 0.5 * abs(box.x + box.w / 2 - target) / rect.w


def _cut_warning(panel: ComicPanel, what: str, fitted: FittedText) -> str:
    shown = " ".join(fitted.lines)
    shown = shown if len(shown) <= 60 else shown[:30] + " ... " + shown[-25:]
    return (f"Panel {panel.index} is too crowded: the {what} does not fit even at {fitted.size:g} pt; "
            f"it was cut to {shown!r}.")


def _rect_points(box: Rect) -> tuple[tuple[float, float], ...]:
    return ((box.x, box.y), (box.right, box.y), (box.right, box.bottom), (box.x, box.bottom))


def placeholder(panel: ComicPanel, rect: Rect, settings: PageSettings) -> Lettering:
    """A grey frame carrying the panel's prompt, for a panel that has no render yet."""
    text = f"No render yet \u2014 panel {panel.index}" + (f"\n{panel.prompt}" if panel.prompt else "")
    fitted = fit_text(text, "caption", rect.w - 4 * PAD, rect.h - 4 * PAD, settings.font_size, settings.min_font_size)
    box = Rect(rect.x + (rect.w - fitted.width) / 2, rect.y, fitted.width, rect.h)
    return Lettering(shapes=[Shape(_rect_points(rect), fill=PLACEHOLDER_FILL, stroke=None)],
                     lines=set_text(fitted, "caption", box, color=PLACEHOLDER_INK))
