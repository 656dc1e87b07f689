"""Soft edges for a cut-out: how much of each outline pixel belongs to the subject.

Along the mask's outline a pixel is a mix of the subject's colour F and the background's
colour B (anti-aliasing, hair, motion blur): I = a·F + (1 - a)·B. F and B are estimated as
the mean colour of the sure subject and sure background pixels near it, and `a` is the
projection of I - B on F - B (the classic known-colour alpha estimate). Inside the subject
a = 1, outside a = 0. Works on any mask, whichever segmenter made it; uses OpenCV box
filters, so a 1024² picture takes milliseconds.
"""
from __future__ import annotations

import cv2
import numpy as np

BAND = 2
"""Width in pixels, on each side of the outline, where alpha is estimated."""

WINDOW = 2 * BAND + 5
"""Side of the square around a pixel whose sure pixels give its F and B colours."""

MIN_CONTRAST = 30.0
"""Below this RGB distance between F and B the mix cannot be told apart; the mask decides."""


def _local_mean(rgb: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean colour of the `known` pixels in a window around every pixel, and their count."""
    weight = known.astype(np.float32)
    count = cv2.blur(weight, (WINDOW, WINDOW), borderType=cv2.BORDER_REFLECT)
    total = cv2.blur(rgb * weight[..., None], (WINDOW, WINDOW), borderType=cv2.BORDER_REFLECT)
    return total / np.maximum(count, 1e-6)[..., None], count


def soft_alpha(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Alpha in [0, 1] (H x W float32) for `mask` over the picture `rgb` (H x W x 3)."""
    rgb = np.asarray(rgb, np.float32)
    mask = np.asarray(mask, bool)
    kernel = np.ones((2 * BAND - 1, 2 * BAND - 1), np.uint8)
    inside = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
    outside = ~cv2.dilate(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
    alpha = mask.astype(np.float32)
    band = ~inside & ~outside
    if not band.any():
        return alpha
    ys, xs = np.nonzero(band)
    fg, fg_count = _local_mean(rgb, inside)
    bg, bg_count = _local_mean(rgb, outside)
    f, b, pixel = fg[ys, xs], bg[ys, xs], rgb[ys, xs]
    span = f - b
    contrast = np.einsum("nc,nc->n", span, span)
    estimate = np.clip(np.einsum("nc,nc->n", pixel - b, span) / np.maximum(contrast, 1e-6), 0, 1)
    known = (fg_count[ys, xs] > 0) & (bg_count[ys, xs] > 0) & (contrast >= MIN_CONTRAST ** 2)
    alpha[ys, xs] = np.where(known, estimate, alpha[ys, xs])
    return alpha


def snap_to_edges(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mask with its outline moved to where the subject covers at least half a pixel."""
    return soft_alpha(rgb, mask) >= 0.5
