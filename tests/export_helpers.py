"""Shared helpers for the export tests and benchmark: draft-like panel images and stories."""
from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from story.export import Balloon, ComicDocument, ComicPanel

SKY = [(120, 170, 230), (250, 190, 120), (60, 70, 120), (170, 210, 190)]


def draft_image(path: Path, seed: int, size: tuple[int, int] = (768, 768)) -> Path:
    """A picture like a draft render: sky, ground and two figures; the figures' boxes are
    at (0.15, 0.35, 0.4, 0.95) and (0.6, 0.35, 0.85, 0.95) of the image."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, SKY[seed % len(SKY)])
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(height * 0.7), width, height), fill=(90 + rng.randrange(60), 140, 80))
    for x0, colour in ((0.15, (200, 60, 60)), (0.6, (60, 90, 200))):
        left, right = int(width * x0), int(width * (x0 + 0.25))
        draw.ellipse((left + width * 0.05, height * 0.35, right - width * 0.05, height * 0.5), fill=(240, 200, 170))
        draw.rectangle((left, height * 0.5, right, height * 0.95), fill=colour)
    for _ in range(20):
        x, y = rng.randrange(width), rng.randrange(int(height * 0.3))
        draw.ellipse((x, y, x + 30, y + 12), fill=(250, 250, 250))
    image.save(path)
    return path


FIGURES = {"Anna": (0.15, 0.35, 0.4, 0.95), "Boris": (0.6, 0.35, 0.85, 0.95)}


def sample_story(folder: Path, count: int = 6, size: tuple[int, int] = (768, 768)) -> ComicDocument:
    """A story of count panels with images, captions and balloons of every kind."""
    kinds = ["speech", "thought", "shout", "whisper"]
    panels = []
    for index in range(1, count + 1):
        image = draft_image(folder / f"panel-{index}.png", index, size)
        speaker = "Anna" if index % 2 else "Boris"
        panels.append(ComicPanel(
            index=index, image_path=image, prompt=f"scene {index}",
            caption=f"Part {index}. The wind rose over the hills." if index % 3 == 1 else "",
            balloons=(Balloon(speaker, f"Line {index}: we have to go before the storm.", kinds[index % 4]),
                      Balloon("Boris" if speaker == "Anna" else "Anna", "Wait!", "speech")),
            character_boxes=FIGURES))
    return ComicDocument("The Storm", "A. Writer", panels, series="The Storm", number="1",
                         summary="Anna and Boris outrun a storm.", characters=("Anna", "Boris"), language="en")
