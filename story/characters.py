"""Characters: the character services (register, re-picture, rename, delete) will live here.

For now it holds the pure image side: checking a character's mask against its picture, and
preparing the subject picture the generator encodes, as the published AnyStory storyboard
does (a square crop around the mask with a small margin, everything outside the mask white).
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
from PIL import Image

SUBJECT_MARGIN = 0.04
"""Extra side length of the square crop around the mask (the published storyboard uses 4 %)."""

FULL_COVERAGE_WARNING = 0.98
"""A mask covering at least this share of the picture probably selected the background too."""

MaskLike = Union[Image.Image, np.ndarray]


def mask_array(mask: MaskLike) -> np.ndarray:
    """A bool H x W array from a bool/0-255 array or a PIL mask (grey values >= 128 are in)."""
    if isinstance(mask, Image.Image):
        return np.asarray(mask.convert("L")) >= 128
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a mask must be a single-channel picture, got shape {array.shape}")
    return array >= 128 if array.dtype == np.uint8 else array.astype(bool)


def validate_mask(image: Image.Image, mask: MaskLike) -> tuple[np.ndarray, Optional[str]]:
    """Return (bool mask, warning or None); refuse an empty mask or one of another size."""
    array = mask_array(mask)
    if array.shape != (image.height, image.width):
        raise ValueError(
            f"the mask is {array.shape[1]} x {array.shape[0]} pixels but the picture is "
            f"{image.width} x {image.height}; use a mask made for this picture"
        )
    if not array.any():
        raise ValueError("the selection is empty: click on the character or drag a box around it")
    coverage = float(array.mean())
    if coverage >= FULL_COVERAGE_WARNING:
        return array, (
            f"the selection covers {coverage:.0%} of the picture, so the background is probably "
            "part of the character; add a negative click on the background if that is wrong"
        )
    return array, None


def square_around(mask: np.ndarray, margin: float = SUBJECT_MARGIN) -> tuple[int, int, int]:
    """(left, top, side) of the square centred on the mask's bounding box, `margin` larger."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = int(round(max(bottom - top, right - left) * (1 + margin)))
    return int(round((left + right - side) / 2)), int(round((top + bottom - side) / 2)), side


def prepare_subject(image: Image.Image, mask: MaskLike) -> tuple[Image.Image, Image.Image]:
    """The subject picture (RGB, white outside the mask) and its mask (mode L, 0/255), both
    the square crop around the mask; parts of the square beyond the picture are white/0."""
    array, _ = validate_mask(image, mask)
    left, top, side = square_around(array)
    rgb = np.asarray(image.convert("RGB"))
    subject = np.full((side, side, 3), 255, np.uint8)
    cut = np.zeros((side, side), bool)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + side, image.height), min(left + side, image.width)
    window = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    cut[window] = array[y0:y1, x0:x1]
    subject[window] = np.where(cut[window][..., None], rgb[y0:y1, x0:x1], 255)
    return Image.fromarray(subject), Image.fromarray(cut.astype(np.uint8) * 255)
