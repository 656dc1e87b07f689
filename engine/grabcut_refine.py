"""OpenCV's GrabCut for pictures whose background is not plain (a photo, a textured wall):
colour models of subject and background, seeded from a first guess, the writer's clicks
and the box's border, decide each pixel. It runs on a copy at most WORK_SIDE pixels on its
long side (GrabCut's cost grows with the pixel count), and the full-size outline is then
placed by engine/soft_edges.py.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

WORK_SIDE = 320
"""Long side of the copy GrabCut works on."""

ITERATIONS = 3
CLICK_RADIUS = 0.02
"""Radius of a click's sure area, as a share of the picture's long side."""


def grabcut_mask(
    rgb: np.ndarray, guess: np.ndarray, points: Sequence[tuple[float, float, bool]]
) -> np.ndarray:
    """Subject mask (bool, full size) of `rgb` (H x W x 3 uint8): `guess` is probably the
    subject, the picture's border is background, clicks are sure subject / background."""
    height, width = guess.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA)
    seeds = np.where(cv2.resize(guess.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0,
                     cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    seeds[[0, -1], :], seeds[:, [0, -1]] = cv2.GC_BGD, cv2.GC_BGD
    radius = max(2, round(CLICK_RADIUS * max(size)))
    for x, y, positive in points:
        centre = (int(x * scale), int(y * scale))
        cv2.circle(seeds, centre, radius, cv2.GC_FGD if positive else cv2.GC_BGD, -1)
    if not (seeds % 2).any():  # GrabCut needs some (probable) subject to model
        return np.zeros_like(guess)
    background_model, subject_model = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(small[..., ::-1].copy(), seeds, None, background_model, subject_model,
                ITERATIONS, cv2.GC_INIT_WITH_MASK)
    chosen = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.float32)
    return cv2.resize(chosen, (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5
