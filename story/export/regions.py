"""Where the characters of a panel are, as coarse grids over its art.

A render's routing maps (one per character) say it best; a writer's box stands in where a
character has no map. Grids are GRID x GRID shares of the art (0..1), so cropping,
tails and balloon placement ask the same question the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from story.export.document import Box, ComicPanel
from story.export.layout import Rect

GRID = 48
PRESENT = 0.5        # a cell belongs to a character when its map is at least this strong
HEAD_SHARE = 0.15    # a character's head: the top this share of its height


def character_grids(panel: ComicPanel) -> dict[str, np.ndarray]:
    """name -> GRID x GRID float grid (0..1) of where that character is in the art."""
    grids = {name: _resize(grid) for name, grid in panel.character_maps.items() if np.asarray(grid).max() >= PRESENT}
    for name, (x0, y0, x1, y1) in panel.character_boxes.items():
        if name not in grids:
            grid = np.zeros((GRID, GRID), np.float32)
            grid[_cell(y0):max(_cell(y1, up=True), _cell(y0) + 1), _cell(x0):max(_cell(x1, up=True), _cell(x0) + 1)] = 1
            grids[name] = grid
    return grids


def _resize(grid: np.ndarray) -> np.ndarray:
    image = Image.fromarray(np.asarray(grid, np.float32), "F")
    return np.asarray(image.resize((GRID, GRID), Image.Resampling.BOX), np.float32)


def _cell(value: float, up: bool = False) -> int:
    scaled = value * GRID
    return int(min(GRID, max(0, np.ceil(scaled) if up else np.floor(scaled))))


def bounds(grid: np.ndarray) -> Box | None:
    """The normalised bounding box of a character's cells, or None when it has none."""
    rows, cols = np.nonzero(grid >= PRESENT)
    if rows.size == 0:
        return None
    return cols.min() / GRID, rows.min() / GRID, (cols.max() + 1) / GRID, (rows.max() + 1) / GRID


def keep_box(grids: dict[str, np.ndarray]) -> Box | None:
    """The smallest box holding every character: what cropping must leave whole."""
    boxes = [box for grid in grids.values() if (box := bounds(grid))]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def head(grid: np.ndarray) -> tuple[float, float] | None:
    """Normalised centre of a character's head (the top of its region), for balloon tails."""
    box = bounds(grid)
    if box is None:
        return None
    top = box[1] + (box[3] - box[1]) * HEAD_SHARE
    rows = grid[: max(_cell(top, up=True), int(box[1] * GRID) + 1)] >= PRESENT
    cols = np.nonzero(rows.any(axis=0))[0]
    return (cols.mean() + 0.5) / GRID, (box[1] + top) / 2


def covered_share(grid: np.ndarray, box: Box) -> float:
    """The share of a character's cells that a normalised box covers (cells count by their middle)."""
    total = float((grid >= PRESENT).sum())
    if total == 0:
        return 0.0
    centres = (np.arange(GRID) + 0.5) / GRID
    inside_x = (centres >= box[0]) & (centres <= box[2])
    inside_y = (centres >= box[1]) & (centres <= box[3])
    return float(((grid >= PRESENT) & inside_y[:, None] & inside_x[None, :]).sum()) / total


@dataclass(frozen=True)
class Cast:
    """A panel's characters on the page: their grids and the page rectangle the whole art spans
    (larger than the frame where the art is cropped)."""

    grids: dict[str, np.ndarray]
    art: Rect

    def _normalised(self, box: Rect) -> Box:
        a = self.art
        return (box.x - a.x) / a.w, (box.y - a.y) / a.h, (box.right - a.x) / a.w, (box.bottom - a.y) / a.h

    def covered(self, box: Rect) -> list[float]:
        """For each character, the share of it (as shown) that box covers."""
        return [covered_share(grid, self._normalised(box)) for grid in self.grids.values()]

    def head(self, name: str) -> tuple[float, float] | None:
        """Page point of a character's head, or None when the panel does not show it."""
        point = head(self.grids[name]) if name in self.grids else None
        return (self.art.x + point[0] * self.art.w, self.art.y + point[1] * self.art.h) if point else None

    def within(self, frame: Rect) -> "Cast":
        """The cast with the cells the frame crops away removed."""
        x0, y0, x1, y1 = self._normalised(frame)
        centres = (np.arange(GRID) + 0.5) / GRID
        shown = ((centres >= y0) & (centres <= y1))[:, None] & ((centres >= x0) & (centres <= x1))[None, :]
        return Cast({name: grid * shown for name, grid in self.grids.items()}, self.art)
