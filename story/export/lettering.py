"""Lettering geometry: captions, balloons with tails, and text wrapped and sized to fit.

Everything is computed in page points (origin top-left) as plain shapes and text lines,
which pdf.py and png.py draw identically. User text is only ever measured and drawn as
literal strings, never parsed as markup.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from story.export.document import Balloon, ComicPanel, PageSettings
from engine.fonts import LINE_SPACING, face_width, runs, text_width
from story.export.layout import Rect

RGB = tuple[int, int, int]
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
CAPTION_FILL = (255, 243, 186)
PLACEHOLDER_FILL, PLACEHOLDER_INK = (228, 228, 228), (80, 80, 80)

PAD = 4.0            # between text and its box
INSET = 6.0          # between a panel's edge and its lettering
GAP = 5.0            # between stacked balloons
SIZE_STEP = 0.5      # auto-sizing steps down by this many points
BALANCE = 2.4        # balloons aim for text blocks this many times wider than tall
ELLIPSIS = "\u2026"
KIND_ROLE = {"speech": "balloon", "thought": "balloon", "shout": "shout", "whisper": "balloon"}
KIND_REACH = {"speech": 1.0, "thought": 1.12, "shout": 1.25, "whisper": 1.0}  # outline beyond the ellipse
CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
TOKEN = re.compile(r"\s+|[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+")


@dataclass(frozen=True)
class Shape:
    """A closed polygon to fill and/or stroke."""

    points: tuple[tuple[float, float], ...]
    fill: RGB | None = WHITE
    stroke: RGB | None = BLACK
    width: float = 1.0
    dash: tuple[float, float] | None = None


@dataclass(frozen=True)
class TextRun:
    face: str
    text: str
    x: float


@dataclass(frozen=True)
class TextLine:
    """One line of text: runs in their faces, on a common baseline."""

    runs: tuple[TextRun, ...]
    baseline: float
    size: float
    color: RGB = BLACK

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


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

    When even min_size does not fit, the lines that fit are kept, the last one ending in
    an ellipsis, and cut=True tells the caller to warn.
    """
    max_w = max(max_w, 1.0)
    while True:
        for width in _candidate_widths(text, role, size, max_w, balanced):
            lines = wrap(text, role, size, width)
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


def letter_panel(panel: ComicPanel, rect: Rect, speakers: dict[str, Rect], settings: PageSettings) -> Lettering:
    """Caption box at the top, then balloons in reading order, tails to their speakers."""
    result = Lettering()
    rtl = settings.reading_direction == "rtl"
    placed = [_caption(panel, rect, settings, rtl, result)] if panel.caption else []
    count = len(panel.balloons)
    if not count:
        return result
    below_caption = placed[0].bottom + GAP if placed else rect.y + INSET
    slot_h = (rect.y + rect.h * 0.8 - below_caption - GAP * (count - 1)) / count
    slot_w = rect.w * (0.8 if count == 1 else 0.62)
    for number, balloon in enumerate(panel.balloons):
        side = -1 if (number % 2 == 0) != rtl else 1
        placed.append(_balloon(panel, balloon, rect, speakers.get(balloon.speaker), (slot_w, slot_h, side),
                               placed, settings, result))
    return result


def _caption(panel: ComicPanel, rect: Rect, settings: PageSettings, rtl: bool, out: Lettering) -> Rect:
    fitted = fit_text(panel.caption, "caption", rect.w * 0.9 - 2 * PAD, rect.h * 0.3 - 2 * PAD,
                      settings.font_size * 0.9, settings.min_font_size)
    if fitted.cut:
        out.warnings.append(_cut_warning(panel, "caption", fitted))
    w, h = fitted.width + 2 * PAD, fitted.height + 2 * PAD
    x = rect.right - INSET - w if rtl else rect.x + INSET
    box = Rect(x, rect.y + INSET, w, h)
    out.shapes.append(Shape(_rect_points(box), fill=CAPTION_FILL, width=0.8))
    out.lines += set_text(fitted, "caption", Rect(x + PAD, box.y + PAD, fitted.width, fitted.height), align="left")
    return box


def _balloon(panel: ComicPanel, balloon: Balloon, rect: Rect, speaker: Rect | None,
             slot: tuple[float, float, int], placed: list[Rect], settings: PageSettings, out: Lettering) -> Rect:
    """Fit, place and outline one balloon; returns the box it occupies."""
    slot_w, slot_h, side = slot
    role, reach = KIND_ROLE[balloon.kind], KIND_REACH[balloon.kind]
    fitted = fit_text(balloon.text, role, (slot_w / reach - 2 * PAD) / math.sqrt(2),
                      (slot_h / reach - 2 * PAD) / math.sqrt(2), settings.font_size, settings.min_font_size,
                      balanced=True)
    if fitted.cut:
        out.warnings.append(_cut_warning(panel, f"{balloon.kind} balloon of {balloon.speaker or 'an unnamed speaker'}",
                                         fitted))
    b = fitted.height / math.sqrt(2) + PAD
    a = fitted.width / math.sqrt(2) + PAD
    a = max(a, min(1.3 * b, slot_w / reach / 2))  # a little wider than tall, as balloons are
    lo, hi = rect.x + INSET + a * reach, rect.right - INSET - a * reach
    wanted = (speaker.x + speaker.w / 2) if speaker else (lo if side < 0 else hi)
    cx = min(max(wanted, lo), hi) if lo <= hi else rect.x + rect.w / 2
    cy = _free_top(cx - a * reach - GAP, cx + a * reach + GAP, placed, rect) + b * reach
    tip = _tail_tip((cx, cy), a * reach, b * reach, speaker, rect, side,
                    min_length=24.0 if balloon.kind == "thought" else 10.0)
    out.shapes += balloon_shapes(balloon.kind, (cx, cy), a, b, tip)
    box = Rect(cx - fitted.width / 2, cy - fitted.height / 2, fitted.width, fitted.height)
    out.lines += set_text(fitted, role, box)
    return Rect(cx - a * reach, cy - b * reach, 2 * a * reach, 2 * b * reach)


def _free_top(left: float, right: float, placed: list[Rect], rect: Rect) -> float:
    """Highest top for a new balloon spanning left..right: read after the previous balloon
    (a little lower than its top) and below every earlier box it would overlap."""
    top = rect.y + INSET
    if placed:
        top = max(top, placed[-1].y + 0.35 * placed[-1].h)
    for box in placed:
        if box.x < right and left < box.right:
            top = max(top, box.bottom + GAP)
    return top


def _cut_warning(panel: ComicPanel, what: str, fitted: FittedText) -> str:
    shown = " ".join(fitted.lines)
    shown = shown if len(shown) <= 60 else shown[:30] + " ... " + shown[-25:]
    return (f"Panel {panel.index}: the {what} does not fit even at {fitted.size:g} pt; "
            f"it was cut to {shown!r}.")


def _rect_points(box: Rect) -> tuple[tuple[float, float], ...]:
    return ((box.x, box.y), (box.right, box.y), (box.right, box.bottom), (box.x, box.bottom))


def _tail_tip(center: tuple[float, float], a: float, b: float, speaker: Rect | None,
              panel: Rect, side: int, min_length: float = 10.0) -> tuple[float, float]:
    """Tail tip: towards the speaker's head when known, else down and to the balloon's side."""
    cx, cy = center
    target = (speaker.x + speaker.w / 2, speaker.y + speaker.h * 0.2) if speaker else None
    reach = math.hypot((target[0] - cx) / a, (target[1] - cy) / b) if target else 0.0
    if target and reach > 1.15:
        edge = (cx + (target[0] - cx) / reach, cy + (target[1] - cy) / reach)
        gap = math.hypot(target[0] - edge[0], target[1] - edge[1])
        length = min(max(gap * 0.55, min_length), panel.h * 0.3)
        ux, uy = (target[0] - edge[0]) / gap, (target[1] - edge[1]) / gap
    else:
        ux, uy = side * 0.4 / math.hypot(0.4, 1.0), 1.0 / math.hypot(0.4, 1.0)
        edge_reach = math.hypot(ux / a, uy / b)
        edge = (cx + ux / edge_reach, cy + uy / edge_reach)
        length = min(max(panel.h * 0.12, min_length), 36.0)
    x = min(max(edge[0] + ux * length, panel.x + 2), panel.right - 2)
    y = min(max(edge[1] + uy * length, panel.y + 2), panel.bottom - 2)
    return x, y


def _radius(kind: str, a: float, b: float):
    """Radial profile of a balloon outline (1.0 = the text ellipse) and its sample count."""
    perimeter = math.pi * (a + b)
    if kind == "shout":
        spikes = max(10, round(perimeter / 16))
        return (lambda t: 1.0 + (KIND_REACH["shout"] - 1) * (1 - abs((t * spikes / math.pi) % 2 - 1))), 2 * spikes
    if kind == "thought":
        bumps = max(8, round(perimeter / 20))
        return (lambda t: 1.0 + (KIND_REACH["thought"] - 1) * abs(math.sin(t * bumps / 2))), 12 * bumps
    return (lambda t: 1.0), 96


def balloon_shapes(kind: str, center: tuple[float, float], a: float, b: float,
                   tip: tuple[float, float]) -> list[Shape]:
    """Outline of a balloon of the given kind around the ellipse (a, b), with its tail to tip."""
    cx, cy = center
    radius, samples = _radius(kind, a, b)
    point = lambda t: (cx + a * radius(t) * math.cos(t), cy + b * radius(t) * math.sin(t))  # noqa: E731
    t_tip = math.atan2((tip[1] - cy) / b, (tip[0] - cx) / a)
    dash = (3.0, 2.0) if kind == "whisper" else None
    if kind == "thought":
        body = Shape(tuple(point(2 * math.pi * i / samples) for i in range(samples)), dash=dash)
        return [body] + _thought_bubbles(point(t_tip), tip)
    half_base = min(7.0, 0.35 * min(a, b))
    speed = math.hypot(a * math.sin(t_tip), b * math.cos(t_tip))
    delta = half_base / speed
    step = 2 * math.pi / samples
    ts = [t_tip + delta] + [t_tip + k * step for k in range(1, samples) if delta < k * step < 2 * math.pi - delta]
    ts.append(t_tip + 2 * math.pi - delta)
    return [Shape(tuple(point(t) for t in ts) + (tip,), width=1.2, dash=dash)]


def _thought_bubbles(edge: tuple[float, float], tip: tuple[float, float]) -> list[Shape]:
    """Three shrinking circles from the cloud towards the thinker."""
    shapes = []
    for fraction, r in ((0.3, 4.0), (0.62, 3.0), (0.92, 2.0)):
        x = edge[0] + (tip[0] - edge[0]) * fraction
        y = edge[1] + (tip[1] - edge[1]) * fraction
        shapes.append(Shape(tuple((x + r * math.cos(2 * math.pi * i / 24), y + r * math.sin(2 * math.pi * i / 24))
                                  for i in range(24)), width=1.0))
    return shapes


def placeholder(panel: ComicPanel, rect: Rect, settings: PageSettings) -> Lettering:
    """A grey frame carrying the panel's prompt, for a panel that has no render yet."""
    text = f"No render yet \u2014 panel {panel.index}" + (f"\n{panel.prompt}" if panel.prompt else "")
    fitted = fit_text(text, "caption", rect.w - 4 * PAD, rect.h - 4 * PAD, settings.font_size, settings.min_font_size)
    box = Rect(rect.x + (rect.w - fitted.width) / 2, rect.y, fitted.width, rect.h)
    return Lettering(shapes=[Shape(_rect_points(rect), fill=PLACEHOLDER_FILL, stroke=None)],
                     lines=set_text(fitted, "caption", box, color=PLACEHOLDER_INK))
