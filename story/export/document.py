"""What a comic export is made of: plain dataclasses, independent of the database.

The project store builds a ComicDocument (content) and a PageSettings (how pages look);
every output format (PDF, PNG pages, CBZ) takes the same two objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.box import Box
from story.vocabulary import BALLOON_KINDS

PANEL_HINTS = (None, "wide", "tall")
LAYOUTS = ("single", "2-rows", "3-rows", "2x2", "2x3", "splash-first", "auto")
PLACEMENTS = ("fill", "fit")
READING_DIRECTIONS = ("ltr", "rtl")
MIN_FONT_SIZE, MAX_FONT_SIZE = 2.0, 200.0  # smaller is unreadable; either end exhausts the text fitter



@dataclass(frozen=True)
class Balloon:
    """One line of dialogue: who says it, what, and how (speech, thought, shout, whisper)."""

    speaker: str
    text: str
    kind: str = "speech"

    def __post_init__(self) -> None:
        if self.kind not in BALLOON_KINDS:
            raise ValueError(f"Unknown balloon kind {self.kind!r}; use one of {', '.join(BALLOON_KINDS)}.")


@dataclass(frozen=True)
class ComicPanel:
    """A panel as exported: its render (or None for a placeholder) and its lettering.

    art_box is the part of the image file that is the picture (x0, y0, x1, y1 normalised;
    None = all of it): a draft render's badge and prompt band lie outside it. Everything
    else is normalised to that art: character_boxes (the writer's boxes) and
    character_maps (where the render put each character, 0..1 grids, any resolution) say
    where characters are, so cropping spares them, tails reach the speaker and balloons
    avoid faces. unplaced names characters in the picture whose place nobody knows (no
    map, no box): the layout then crops nothing. A balloon whose speaker is "" is
    narration: a caption box. draft marks a draft render, which the page labels "DRAFT".
    """

    index: int
    image_path: Path | None = None
    prompt: str = ""
    caption: str = ""
    balloons: tuple[Balloon, ...] = ()
    hint: str | None = None
    character_boxes: dict[str, Box] = field(default_factory=dict)
    character_maps: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    art_box: Box | None = None
    draft: bool = False
    unplaced: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.hint not in PANEL_HINTS:
            raise ValueError(f"Panel {self.index}: unknown layout hint {self.hint!r}; use 'wide', 'tall' or None.")
        object.__setattr__(self, "balloons", tuple(self.balloons))
        if self.image_path is not None:
            object.__setattr__(self, "image_path", Path(self.image_path))
        for name, box in [*self.character_boxes.items(), ("the art box", self.art_box or (0, 0, 1, 1))]:
            try:
                Box.of(box)
            except ValueError as exc:
                raise ValueError(f"Panel {self.index}: the box of {name!r}: {exc}.") from None


@dataclass(frozen=True)
class ComicDocument:
    """The story to export: title page text, the panels in reading order, and what comic
    readers and e-book stores show about it (series, number, summary, characters, language
    as an ISO 639 code)."""

    title: str
    author: str = ""
    panels: tuple[ComicPanel, ...] = ()
    series: str = ""
    number: str = "1"
    summary: str = ""
    characters: tuple[str, ...] = ()
    language: str = "en"

    def __post_init__(self) -> None:
        object.__setattr__(self, "panels", tuple(self.panels))
        object.__setattr__(self, "characters", tuple(self.characters))


@dataclass(frozen=True)
class PageSettings:
    """How pages look. Lengths are in points (1/72 inch).

    page_size: "a4", "letter", "us-comic" (6.625 x 10.25 in) or "WxH" with a unit
    (mm, in, pt), e.g. "148x210mm". layout: one of LAYOUTS; only "auto" honours panel
    hints. placement: "fill" lets a frame trim a picture's background (at most MAX_CROP of a
    side, never through a character: the routing maps and boxes say where they are) so
    rows fill the page; "fit" never crops (frames take the pictures' shapes, pages may end
    early). bleed (points, print PDF only) extends the page past the trim.
    """

    page_size: str = "a4"
    margin: float = 36.0
    gutter: float = 12.0
    border: float = 2.0
    layout: str = "auto"
    reading_direction: str = "ltr"
    placement: str = "fill"
    title_page: bool = True
    page_numbers: bool = True
    font_size: float = 11.0
    min_font_size: float = 8.0
    bleed: float = 0.0

    def __post_init__(self) -> None:
        for value, allowed, what in ((self.layout, LAYOUTS, "layout"),
                                     (self.placement, PLACEMENTS, "image placement"),
                                     (self.reading_direction, READING_DIRECTIONS, "reading direction")):
            if value not in allowed:
                raise ValueError(f"Unknown {what} {value!r}; use one of {', '.join(allowed)}.")
        if min(self.margin, self.gutter, self.border, self.bleed) < 0:
            raise ValueError("Margins, gutters and borders cannot be negative.")
        if not MIN_FONT_SIZE <= self.min_font_size <= self.font_size <= MAX_FONT_SIZE:
            raise ValueError(f"Font sizes must satisfy {MIN_FONT_SIZE} <= min_font_size <= font_size <= {MAX_FONT_SIZE} (points).")
