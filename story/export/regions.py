"""Where the characters of a panel are, as coarse grids over its art.

A render's routing maps (one per character) say it best; a writer's box stands in where a
character has no map. Grids are GRID x GRID shares of the art (0..1), so cropping,
tails and balloon placement ask the same question the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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


def cell_table(grid: np.ndarray) -> np.ndarray:
    """Summed-area table of a character's cells, so the share any box covers is four lookups."""
    table = np.zeros((GRID + 1, GRID + 1), np.float64)
    table[1:, 1:] = (grid >= PRESENT).cumsum(axis=0).cumsum(axis=1)
    return table


def covered_share(table: np.ndarray, box: Box) -> float:
    """The share of a character's cells (its cell_table) whose middles a normalised box covers."""
    total = table[-1, -1]
    if total == 0:
        return 0.0
    x0, x1 = max(int(np.ceil(box[0] * GRID - 0.5)), 0), min(int(np.floor(box[2] * GRID - 0.5)), GRID - 1) + 1
    y0, y1 = max(int(np.ceil(box[1] * GRID - 0.5)), 0), min(int(np.floor(box[3] * GRID - 0.5)), GRID - 1) + 1
    if x1 <= x0 or y1 <= y0:
        return 0.0
    return float(table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]) / total


@dataclass(frozen=True)
class Cast:
    """A panel's characters on the page: their grids and the page rectangle the whole art spans
    (larger than the frame where the art is cropped)."""

    grids: dict[str, np.ndarray]
    art: Rect
    tables: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", {name: cell_table(grid) for name, grid in self.grids.items()})

    def _normalised(self, box: Rect) -> Box:
        a = self.art
        return (box.x - a.x) / a.w, (box.y - a.y) / a.h, (box.right - a.x) / a.w, (box.bottom - a.y) / a.h

    def covered(self, box: Rect) -> list[float]:
        """For each character, the share of it (as shown) that box covers."""
        return [covered_share(table, self._normalised(box)) for table in self.tables.values()]

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
