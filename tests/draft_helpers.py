"""Synthetic characters for draft-engine tests and benchmarks: a flat-coloured figure
(head and body) on a white background, with its exact mask."""
from __future__ import annotations

from PIL import Image, ImageDraw

from engine.base import PanelRequest, SubjectInput
from engine.draft import DraftGenerator

RED, BLUE, YELLOW, GREEN = (230, 20, 30), (20, 60, 235), (250, 210, 0), (0, 200, 60)


def figure(colour: tuple[int, int, int], width: int = 300, height: int = 600,
           border: int = 20) -> tuple[Image.Image, Image.Image]:
    """A (picture, mask) pair like a segmented upload: the figure in `colour` on white,
    filling exactly (border, border, border + width, border + height)."""
    size = (width + 2 * border, height + 2 * border)
    picture, mask = Image.new("RGB", size, "white"), Image.new("L", size, 0)
    for draw, fill in ((ImageDraw.Draw(picture), colour), (ImageDraw.Draw(mask), 255)):
        draw.ellipse((border + width // 4, border, border + 3 * width // 4, border + height // 3),
                     fill=fill)
        draw.rounded_rectangle((border, border + height // 3, border + width - 1, border + height - 1),
                               radius=width // 10, fill=fill)
    return picture, mask


def subjects(generator: DraftGenerator, colours, boxes=None) -> list[SubjectInput]:
    """Encoded characters named c0, c1, ... in the given colours, with optional boxes."""
    boxes = boxes or [None] * len(colours)
    return [SubjectInput(f"c{i}", generator.encode_subject(*figure(c)), box)
            for i, (c, box) in enumerate(zip(colours, boxes))]


def three_character_request(generator: DraftGenerator, seed: int = 7, **kwargs) -> PanelRequest:
    """The benchmark's panel: 768x768, three characters, a two-line prompt."""
    prompt = ("Three friends cross the meadow at sunset, arguing about the map while the "
              "old lighthouse blinks far away on the hill")
    return PanelRequest(prompt, subjects(generator, (RED, BLUE, YELLOW)), seed=seed, **kwargs)
