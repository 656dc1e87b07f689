"""What a comic export is made of: plain dataclasses, independent of the database.

The project store builds a ComicDocument (content) and a PageSettings (how pages look);
every output format (PDF, PNG pages, CBZ) takes the same two objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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

    speaker_boxes maps a speaker name to the character's box (x0, y0, x1, y1), normalised
    to 0..1 of the panel image, so balloon tails can point at the right character.
    """

    index: int
    image_path: Path | None = None
    prompt: str = ""
    caption: str = ""
    balloons: tuple[Balloon, ...] = ()
    hint: str | None = None
    speaker_boxes: dict[str, Box] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.hint not in PANEL_HINTS:
            raise ValueError(f"Panel {self.index}: unknown layout hint {self.hint!r}; use 'wide', 'tall' or None.")
        object.__setattr__(self, "balloons", tuple(self.balloons))
        if self.image_path is not None:
            object.__setattr__(self, "image_path", Path(self.image_path))
        for name, box in self.speaker_boxes.items():
            try:
                Box.of(box)
            except ValueError as exc:
                raise ValueError(f"Panel {self.index}: the box of {name!r}: {exc}.") from None


@dataclass(frozen=True)
class ComicDocument:
    """The story to export: title page text and the panels in reading order."""

    title: str
    author: str = ""
    panels: tuple[ComicPanel, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "panels", tuple(self.panels))


@dataclass(frozen=True)
class PageSettings:
    """How pages look. Lengths are in points (1/72 inch).

    page_size: "a4", "letter", "us-comic" (6.625 x 10.25 in) or "WxH" with a unit
    (mm, in, pt), e.g. "148x210mm". layout: one of LAYOUTS; only "auto" honours panel
    hints. placement: "fill" crops images to fill their frame, "fit" shows them whole.
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
    min_font_size: float = 6.0

    def __post_init__(self) -> None:
        for value, allowed, what in ((self.layout, LAYOUTS, "layout"),
                                     (self.placement, PLACEMENTS, "image placement"),
                                     (self.reading_direction, READING_DIRECTIONS, "reading direction")):
            if value not in allowed:
                raise ValueError(f"Unknown {what} {value!r}; use one of {', '.join(allowed)}.")
        if min(self.margin, self.gutter, self.border) < 0:
            raise ValueError("Margins, gutters and borders cannot be negative.")
        if not MIN_FONT_SIZE <= self.min_font_size <= self.font_size <= MAX_FONT_SIZE:
            raise ValueError(f"Font sizes must satisfy {MIN_FONT_SIZE} <= min_font_size <= font_size <= {MAX_FONT_SIZE} (points).")
