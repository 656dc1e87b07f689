"""Synthetic pictures with known masks for the segmentation tests and benchmark.

Each maker returns (picture, true mask); the masks are drawn geometrically here, never
produced by the code under test.
"""
from __future__ import annotations

import numpy as np
from PIL import Image


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks."""
    return float((a & b).sum() / max((a | b).sum(), 1))


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:height, 0:width]


def ellipse_mask(height: int, width: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    yy, xx = _grid(height, width)
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1


def rect_mask(height: int, width: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def gradient_background(height: int, width: int, start, end) -> np.ndarray:
    """A diagonal colour ramp from `start` (top-left) to `end` (bottom-right), float RGB."""
    yy, xx = _grid(height, width)
    t = ((xx / (width - 1) + yy / (height - 1)) / 2)[..., None]
    return (1 - t) * np.array(start, float) + t * np.array(end, float)


def compose(background: np.ndarray, shapes, noise: float = 0.0, seed: int = 0) -> Image.Image:
    """Paint (mask, colour) shapes over a float RGB background, add Gaussian noise."""
    canvas = background.copy()
    for mask, colour in shapes:
        canvas[mask] = colour
    if noise:
        canvas += np.random.default_rng(seed).normal(0, noise, canvas.shape)
    return Image.fromarray(np.clip(canvas, 0, 255).round().astype(np.uint8))


def plain(height: int, width: int, colour) -> np.ndarray:
    return np.broadcast_to(np.array(colour, float), (height, width, 3)).copy()
