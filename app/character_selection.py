"""The picture a writer is cutting out in the Characters tab, and what they did to it:
clicks, a box, brush strokes, an uploaded mask. Lives in gr.State per browser tab.

A large upload is worked on as a copy at most WORK_SIDE pixels on its long side, so a click
stays fast; the original is kept and saving scales the mask up to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from PIL import Image

from app.overlay import selection_overlay
from engine.segment import flatten_on_white
from story import characters

WORK_SIDE = 1024
"""Long side of the copy the segmenter and the brush work on."""

ADD_COLOUR, REMOVE_COLOUR = "#22c55e", "#ef4444"
"""Brush colours: green paints parts into the cut-out, red takes them out."""

LIGHT, DARK = (244, 241, 234), (28, 30, 36)
"""The two backgrounds the cut-out preview is shown on (losses show on one or the other)."""


def working_copy(image: Image.Image) -> Image.Image:
    """The picture itself, or a copy scaled down to WORK_SIDE on its long side."""
    scale = WORK_SIDE / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)  # box-reduce first: fast


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A bool mask scaled to `size` (width, height), smoothly so the outline stays fine."""
    if mask.shape[::-1] == tuple(size):
        return mask
    grey = Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey) >= 128


def _hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], float)


def brush_strokes(layers: list[Any], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(painted green, painted red) as bool masks of `size` from ImageEditor layers."""
    added = np.zeros(size[::-1], bool)
    removed = np.zeros(size[::-1], bool)
    for layer in layers:
        rgba = Image.fromarray(np.asarray(layer)).convert("RGBA").resize(size, Image.Resampling.NEAREST)
        rgba = np.asarray(rgba)
        painted = rgba[..., 3] > 0
        rgb = rgba[..., :3].astype(float)
        to_add, to_remove = (np.abs(rgb - _hex_rgb(c)).sum(-1) for c in (ADD_COLOUR, REMOVE_COLOUR))
        closer_to_add = to_add < to_remove
        added |= painted & closer_to_add
        removed |= painted & ~closer_to_add
    return added, removed


@dataclass
class Selection:
    """The picture being cut out (a working copy of `original`) and the writer's edits."""

    image: Optional[Image.Image] = None
    original: Optional[Image.Image] = None
    points: list[tuple[float, float, bool]] = field(default_factory=list)
    box: Optional[tuple[float, float, float, float]] = None
    corner: Optional[tuple[float, float]] = None
    base: Optional[np.ndarray] = None
    """The cut-out before brush strokes (segmenter, mask file or transparency)."""
    added: Optional[np.ndarray] = None
    removed: Optional[np.ndarray] = None
    segmenter: str = ""
    changed: bool = False
    """True once the writer uploaded, clicked or painted: saving then stores the new picture."""

    @classmethod
    def of_upload(cls, original: Image.Image) -> "Selection":
        """A new picture: cut along its transparency at once when it has some."""
        image = working_copy(original)
        sel = cls(image=image, original=original, changed=True)
        alpha = characters.transparency_mask(image)
        if alpha is not None:
            sel.base, sel.segmenter = alpha, "transparency of the picture"
        return sel

    @classmethod
    def of_stored(cls, original: Image.Image, mask: np.ndarray, segmenter: str) -> "Selection":
        """A saved character's picture and mask, unchanged until the writer edits them."""
        image = working_copy(original)
        return cls(image=image, original=original, base=resize_mask(mask, image.size), segmenter=segmenter)

    @property
    def mask(self) -> Optional[np.ndarray]:
        """The cut-out on the working copy: the base with the brush strokes applied."""
        if self.base is None and self.added is None:
            return None
        mask = np.zeros(self.image.size[::-1], bool) if self.base is None else self.base.copy()
        if self.added is not None:
            mask |= self.added
        if self.removed is not None:
            mask &= ~self.removed
        return mask

    def full_mask(self) -> Optional[np.ndarray]:
        """The cut-out at the original picture's size, for saving."""
        mask = self.mask
        return None if mask is None else resize_mask(mask, self.original.size)

    def paint(self, layers: list[Any]) -> None:
        """Add the brush strokes of an ImageEditor value to the ones already made."""
        added, removed = brush_strokes(layers, self.image.size)
        if not (added.any() or removed.any()):
            raise ValueError("Nothing was painted: paint green over parts to add, red over parts to remove.")
        self.added = added if self.added is None else (self.added & ~removed) | added
        self.removed = removed if self.removed is None else (self.removed & ~added) | removed
        self.changed = True

    def use_mask_file(self, mask: Image.Image) -> None:
        """An uploaded mask (white = the character), of the original's or the copy's size."""
        if mask.size not in (self.original.size, self.image.size):
            raise ValueError(
                f"The mask is {mask.width} x {mask.height} pixels but the picture is "
                f"{self.original.width} x {self.original.height}; use a mask made for this picture."
            )
        self.base = resize_mask(characters.mask_array(mask), self.image.size)
        self.points, self.box, self.corner, self.added, self.removed = [], None, None, None, None
        self.segmenter, self.changed = "mask file", True

    def overlay(self) -> Optional[Image.Image]:
        """The working copy with the selection tinted and the clicks and box drawn."""
        if self.image is None:
            return None
        shown = flatten_on_white(self.image)  # transparency on white, not on black
        return selection_overlay(shown, self.mask, self.points, self.box, self.corner)

    def preview(self, size: int = 320) -> Optional[Image.Image]:
        """The cut-out as it will be stored, on a light and on a dark background side by side."""
        mask = self.mask
        if mask is None or not mask.any():
            return None
        subject, alpha = characters.soft_cutout(self.image, mask)
        board = Image.new("RGB", (2 * size + 8, size), (255, 255, 255))
        for index, colour in enumerate((LIGHT, DARK)):
            backdrop = Image.new("RGB", subject.size, colour)
            backdrop.paste(subject, (0, 0), alpha)
            board.paste(backdrop.resize((size, size), Image.Resampling.LANCZOS), (index * (size + 8), 0))
        return board
